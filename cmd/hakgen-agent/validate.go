package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/keepalived"
	"github.com/hakgen/hakgen/preflight"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
	"github.com/hakgen/hakgen/systemd"
)

const validateLong = `
Checks a desired state the whole way, on the load balancer it is for:
  - parses and validates it: every problem is listed with its file, line,
    column and field;
  - renders haproxy.cfg for this node into a temporary file and runs
    ` + "`haproxy -c`" + ` on it with the flags of Debian's haproxy.service, printing
    HAProxy's own messages when it refuses the result;
  - renders keepalived.conf for every load balancer and, for this node, runs
    ` + "`keepalived -t`" + ` on it when keepalived is installed;
  - checks the node: the interfaces the state names exist and hold the
    node's address, the secret files (API token, stats password) exist, can
    be read and are private, and haproxy.maxconn fits the file-descriptor
    limit HAProxy gets (LimitNOFILE of its unit, else this shell's hard limit);
  - with a privateVIP, reads its network from the Hetzner API and checks
    that the address lies inside the network's range and outside its
    subnets, and that the load balancers are on the network.
With a discovery.hcloud section, the servers its label selectors find (one
poll of the Hetzner API; offline, those run kept in --discovered-file) are
listed and rendered into the haproxy.cfg that is checked.
This node is --node, else the load balancer whose address this machine has.
With --offline (on a laptop or in CI, before deploying) only what needs no
node is checked: missing secret files are warnings, and so is the private
VIP's network, which is not read. Nothing is
installed or reloaded.`

const validateExamples = `  hakgen-agent validate
  hakgen-agent validate --state ./state.yaml --offline
  hakgen-agent validate --node lb2 --haproxy-bin /usr/local/sbin/haproxy`

// DefaultValidateTimeout bounds validate: the checks take well under a
// second; a hung haproxy or D-Bus must not hang the command.
const DefaultValidateTimeout = 30 * time.Second

// validateOptions are the flags of validate.
type validateOptions struct {
	state, haproxyBin, keepalivedBin, node, unit, agentPath string
	offline                                                 bool
	timeout                                                 time.Duration
	discovered                                              string
}

func (o *validateOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.state, "state", DefaultStatePath, "desired-state `FILE`")
	fs.StringVar(&o.haproxyBin, "haproxy-bin", "", "haproxy `binary` (default: "+haproxy.DefaultBin+", else haproxy in PATH)")
	fs.StringVar(&o.keepalivedBin, "keepalived-bin", "", "keepalived `binary` for `keepalived -t` (default: "+keepalived.DefaultBin+"; skipped when not installed)")
	fs.StringVar(&o.node, "node", "", "this node's `NAME` in loadBalancers (default: the one with a local address)")
	fs.StringVar(&o.unit, "unit", systemd.DefaultUnit, "HAProxy's systemd `UNIT`, whose LimitNOFILE bounds haproxy.maxconn")
	fs.BoolVar(&o.offline, "offline", false, "check only what needs no node (not on a load balancer): no interfaces, no keepalived -t, no file-descriptor limit; missing secret files are warnings")
	fs.DurationVar(&o.timeout, "timeout", DefaultValidateTimeout, "give up after `DURATION`")
	addAgentPathFlag(fs, &o.agentPath)
	addDiscoveredFlag(fs, &o.discovered)
}

func newValidateCommand(e *env) *cobra.Command {
	o := &validateOptions{}
	cmd := &cobra.Command{
		Use:         "validate",
		Short:       "check a state file, the configurations it renders and this node",
		Long:        validateLong,
		Example:     validateExamples,
		Annotations: map[string]string{annotationSynopsis: "hakgen-agent validate [--state FILE] [--node NAME | --offline] [--haproxy-bin PATH] [--keepalived-bin PATH]"},
		Args:        noArgs,
		RunE:        func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), e) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

func (o *validateOptions) run(ctx context.Context, e *env) error {
	if o.timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	s, err := loadStateFor(ctx, o.state, e.stderr, state.LoadSkippingSecrets)
	if err != nil {
		return err
	}
	v := &validation{opts: o, s: s, e: e}
	if err := v.locateNode(); err != nil {
		return err
	}
	v.secrets()
	if err := v.discover(ctx); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "hakgen-validate-")
	if err != nil {
		return envErr(err)
	}
	defer os.RemoveAll(dir)
	cfg, err := v.renderHAProxy(dir)
	if err != nil {
		return err
	}
	if err := validateFailover(s); err != nil {
		return err
	}
	if err := v.checkHAProxy(ctx, cfg); err != nil {
		return err
	}
	if !o.offline && v.node != "" {
		v.checkInterfaces()
		if err := v.checkKeepalived(ctx); err != nil {
			return err
		}
	}
	v.checkPrivateVIP(ctx)
	if !o.offline {
		v.checkFileLimit(ctx)
	}
	return v.report()
}

// validation is one validate run: the state, this node, and the problems
// of the node found so far.
type validation struct {
	opts     *validateOptions
	s        *state.State
	e        *env
	node     string // this node's name in loadBalancers; "" offline or when none
	results  []preflight.Result
	haproxy  string // the haproxy binary that checked haproxy.cfg
	kaStatus string // what keepalived -t said, for the summary
}

// locateNode finds this node unless offline.
func (v *validation) locateNode() error {
	if v.opts.offline || len(v.s.LoadBalancers) == 0 {
		if v.opts.node != "" && len(v.s.LoadBalancers) == 0 {
			return usageErr("--node %s: the state lists no loadBalancers", v.opts.node)
		}
		return nil
	}
	i, err := findThisNode(v.s, v.opts.node)
	if err != nil {
		return fmt.Errorf("%w\n(on a machine that is no load balancer, check the state with --offline)", err)
	}
	v.node = v.s.LoadBalancers[i].Name
	return nil
}

// secrets checks the secret files and reads the stats password when it can
// be read; rendering needs one, so offline a placeholder stands in for it.
func (v *validation) secrets() {
	v.results = append(v.results, preflight.SecretFiles(v.s, v.opts.offline)...)
	if v.s.Stats.User == "" {
		return
	}
	if err := v.s.LoadSecrets(); err != nil {
		v.s.Stats.Password = "placeholder: the password file cannot be read"
	}
}

// renderHAProxy renders haproxy.cfg for this node, its server-state file
// in dir (created, as run creates the real one): validate writes nothing
// of the node's.
func (v *validation) renderHAProxy(dir string) ([]byte, error) {
	stateFile := filepath.Join(dir, "server-state")
	if err := haproxy.EnsureServerState(stateFile); err != nil {
		return nil, envErr(err)
	}
	return render.HAProxyWith(v.s, render.HAProxyOptions{Node: v.node, ServerStateFile: stateFile})
}

func (v *validation) checkHAProxy(ctx context.Context, cfg []byte) error {
	path, err := haproxy.FindBin(v.opts.haproxyBin)
	if err != nil {
		return envErr(err)
	}
	v.haproxy = path
	tmp, err := writeTemp(cfg)
	if err != nil {
		return envErr(err)
	}
	defer os.Remove(tmp)
	warnings, err := haproxy.Checker{Bin: path, Args: haproxy.DebianServiceArgs}.Check(ctx, tmp)
	var refused *haproxy.CheckError
	switch {
	case errors.As(err, &refused):
		v.results = append(v.results, preflight.Result{Check: "haproxy -c", Status: preflight.Fail,
			Detail: fmt.Sprintf("renders a haproxy.cfg that %s refuses:\n%s", path, strings.TrimRight(refused.Output, "\n"))})
		return nil
	case err != nil:
		return envErr(err)
	}
	if warnings != "" {
		fmt.Fprintf(v.e.stderr, "haproxy warnings:\n%s", warnings)
	}
	return nil
}

// checkKeepalived runs keepalived -t on this node's keepalived.conf, when
// the state has a keepalived section and keepalived is installed.
func (v *validation) checkKeepalived(ctx context.Context) error {
	if v.s.Keepalived == nil {
		return nil
	}
	bin := v.opts.keepalivedBin
	if bin == "" {
		bin = keepalived.DefaultBin
	}
	if _, err := os.Stat(bin); errors.Is(err, fs.ErrNotExist) && v.opts.keepalivedBin == "" {
		v.kaStatus = "keepalived is not installed: keepalived -t skipped"
		return nil
	}
	conf, err := render.Keepalived(v.s, render.KeepalivedOptions{Node: v.node, Agent: v.opts.agentPath, StatePath: notifyStatePath(v.opts.state)})
	if err != nil {
		return err
	}
	tmp, err := writeTemp(conf)
	if err != nil {
		return envErr(err)
	}
	defer os.Remove(tmp)
	_, err = keepalived.Checker{Bin: bin}.Check(ctx, tmp)
	var refused *keepalived.CheckError
	switch {
	case errors.As(err, &refused):
		v.results = append(v.results, preflight.Result{Check: "keepalived -t", Status: preflight.Fail, Field: "keepalived",
			Detail: fmt.Sprintf("renders a keepalived.conf for %s that %s refuses (exit %d):\n%s", v.node, bin, refused.ExitCode,
				strings.ReplaceAll(strings.TrimRight(refused.Output, "\n"), tmp, "keepalived.conf"))})
		return nil
	case err != nil:
		return envErr(err)
	}
	v.kaStatus = "keepalived.conf passes " + bin + " -t"
	return nil
}

func (v *validation) checkInterfaces() {
	have, err := preflight.LocalInterfaces()
	if err != nil {
		v.results = append(v.results, preflight.Result{Check: "interfaces", Status: preflight.Fail, Detail: err.Error()})
		return
	}
	v.results = append(v.results, preflight.Interfaces(v.s, v.node, have)...)
}

// checkFileLimit checks haproxy.maxconn against the file-descriptor limit
// of HAProxy's unit, or without systemd this process's hard limit.
func (v *validation) checkFileLimit(ctx context.Context) {
	limit, err := fileLimit(ctx, v.opts.unit)
	if err != nil {
		v.results = append(v.results, preflight.Result{Check: "file descriptors", Status: preflight.Warn, Field: "haproxy.maxconn",
			Detail: "cannot tell the file-descriptor limit HAProxy gets: " + err.Error()})
		return
	}
	v.results = append(v.results, preflight.MaxConnFits(v.s, limit))
}

// fileLimit is the hard file-descriptor limit HAProxy gets: LimitNOFILE of
// its unit when systemd runs, else this process's.
func fileLimit(ctx context.Context, unit string) (preflight.FDLimit, error) {
	if _, err := os.Stat(systemdRunDir); err == nil {
		n, err := systemd.FileLimit(ctx, nil, unit)
		if err != nil {
			return preflight.FDLimit{}, err
		}
		return preflight.FDLimit{Hard: n, Source: "LimitNOFILE of " + unit}, nil
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return preflight.FDLimit{}, fmt.Errorf("reading the file-descriptor limit: %w", err)
	}
	return preflight.FDLimit{Hard: rl.Max, Source: "the hard limit of this shell (ulimit -Hn; no systemd)"}, nil
}

// report prints the node's problems and the verdict.
func (v *validation) report() error {
	problems := preflight.Problems(v.s, v.results)
	printWarnings(v.e.stderr, problems.Warnings())
	if err := problems.Err(); err != nil {
		return err
	}
	s := v.s
	where := "offline"
	if v.node != "" {
		where = "on " + v.node
	} else if !v.opts.offline {
		where = "on this host"
	}
	fmt.Fprintf(v.e.stdout, "%s is valid (%s): %d control planes, %d workers, %d extra ports; haproxy.cfg passes %s -c\n",
		v.opts.state, where, len(s.ControlPlanes), len(s.Workers), len(s.ExtraPorts), v.haproxy)
	if v.opts.offline {
		fmt.Fprintf(v.e.stdout, "not checked offline: this node's interfaces, keepalived -t, the file-descriptor limit\n")
	}
	if v.kaStatus != "" {
		fmt.Fprintf(v.e.stdout, "%s\n", v.kaStatus)
	}
	for _, r := range v.results {
		if r.Status == preflight.Pass {
			fmt.Fprintf(v.e.stdout, "ok: %s\n", r.Detail)
		}
	}
	if isExample(v.opts.state) {
		fmt.Fprintf(v.e.stderr, "note: %s still begins with the example marker line; hakgen-agent.service does not start until you remove it\n", v.opts.state)
	}
	return nil
}

// writeTemp writes cfg to a private temporary file and returns its path.
func writeTemp(cfg []byte) (string, error) {
	f, err := os.CreateTemp("", "hakgen-validate-*.cfg")
	if err != nil {
		return "", fmt.Errorf("writing the rendered configuration: %w", err)
	}
	_, werr := f.Write(cfg)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing the rendered configuration: %w", err)
	}
	return f.Name(), nil
}

// validateFailover checks, when the state has a keepalived section, that
// keepalived.conf renders for every load balancer, as run will need.
func validateFailover(s *state.State) error {
	if s.Keepalived == nil {
		return nil
	}
	if err := s.CompleteForKeepalived(); err != nil {
		return err
	}
	for _, lb := range s.LoadBalancers {
		if _, err := render.Keepalived(s, render.KeepalivedOptions{Node: lb.Name}); err != nil {
			return fmt.Errorf("keepalived.conf for %s: %w", lb.Name, err)
		}
	}
	return nil
}

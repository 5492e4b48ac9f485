package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/keepalived"
	"github.com/hakgen/hakgen/preflight"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
	"github.com/hakgen/hakgen/systemd"
)

const doctorLong = `
Checks, on a load balancer, what bites at the first failover, and prints
pass, warn or fail with the fix for each:
  - every control plane's certificate names the Floating IP (and each
    --name) in its SANs, as clients through the load balancer verify it;
  - the peer's VRRP adverts arrive here (IP protocol 112 is not dropped;
    on the MASTER, whose peer sends none, this is a warning: run doctor on
    the BACKUP too);
  - loadBalancers[].serverID of this node is what the metadata service says;
  - the API token works (one read request) and its file is root-only;
  - the interfaces and addresses the state names exist;
  - haproxy.maxconn fits the file-descriptor limit HAProxy gets;
  - HAProxy (2.6+) and keepalived (2.2+) are recent enough;
  - the clock is synchronized;
  - no maintenance flag (set by drill) holds this node out of MASTER.
It changes nothing. $HCLOUD_ENDPOINT and $HCLOUD_METADATA_ENDPOINT override
Hetzner's endpoints, as for notify.`

const doctorExitCodes = `Exit codes of doctor:
  0  every check passed
  1  a check failed (or the state cannot be read)
  2  usage error
  3  environment problem
  5  warnings only`

// exitWarnings is doctor's exit code when no check failed but some warned.
const exitWarnings = 5

// doctorOptions are the flags of doctor.
type doctorOptions struct {
	state, node, stateDir, unit, haproxyBin, keepalivedBin string
	names                                                  []string
	timeout, vrrpWait                                      time.Duration
}

func (o *doctorOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.state, "state", DefaultStatePath, "desired-state `FILE`")
	fs.StringVar(&o.node, "node", "", "this node's `NAME` in loadBalancers (default: the one with a local address)")
	fs.StringSliceVar(&o.names, "name", nil, "a DNS `NAME` clients reach the API by (e.g. k8s.example.com), which the certificates must name too; repeatable")
	fs.StringVar(&o.stateDir, "state-dir", failover.DefaultStateDir, "`DIR` of what keepalived's notify runs recorded (to know whether this node is MASTER)")
	fs.StringVar(&o.unit, "unit", systemd.DefaultUnit, "HAProxy's systemd `UNIT`, whose LimitNOFILE bounds haproxy.maxconn")
	fs.StringVar(&o.haproxyBin, "haproxy-bin", haproxy.DefaultBin, "haproxy `binary`")
	fs.StringVar(&o.keepalivedBin, "keepalived-bin", keepalived.DefaultBin, "keepalived `binary`")
	fs.DurationVar(&o.vrrpWait, "vrrp-wait", 0, "listen this long for the peer's VRRP adverts (default: 3 advert intervals and a second)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up after `DURATION`")
}

func newDoctorCommand(e *env) *cobra.Command {
	o := &doctorOptions{}
	cmd := &cobra.Command{
		Use:     "doctor",
		Short:   "check this load balancer for what would break its first failover",
		Long:    doctorLong,
		Example: "  hakgen-agent doctor\n  hakgen-agent doctor --name k8s.example.com",
		Annotations: map[string]string{annotationSynopsis: "hakgen-agent doctor [--state FILE] [--node NAME] [--name DNSNAME]...",
			annotationExitCodes: doctorExitCodes},
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), e) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

func (o *doctorOptions) run(ctx context.Context, e *env) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	s, err := loadStateFor(ctx, o.state, e.stderr, state.LoadSkippingSecrets)
	if err != nil {
		return err
	}
	if err := s.CompleteForKeepalived(); err != nil {
		return fmt.Errorf("doctor checks a load balancer of a pair: %w", err)
	}
	i, err := findThisNode(s, o.node)
	if err != nil {
		return err
	}
	me := s.LoadBalancers[i]
	var results []preflight.Result
	if s.HCloudDiscovery() != nil {
		var found preflight.Result
		s, found = doctorDiscovery(ctx, s)
		results = append(results, found)
	}
	results = append(results, o.checks(ctx, s, i)...)
	for _, r := range results {
		printResult(e, r)
	}
	switch preflight.Worst(results) {
	case preflight.Fail:
		return &exitError{exitInvalid, fmt.Errorf("%s: some checks failed", me.Name)}
	case preflight.Warn:
		return &exitError{exitWarnings, fmt.Errorf("%s: no check failed, some warned", me.Name)}
	}
	fmt.Fprintf(e.stdout, "%s: every check passed\n", me.Name)
	return nil
}

// doctorDiscovery polls discovery once, so that the checks of the control
// planes cover the discovered ones too; without an answer they cover the
// state's own.
func doctorDiscovery(ctx context.Context, s *state.State) (*state.State, preflight.Result) {
	check := "discovery"
	dctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	res, err := discovery.Once(dctx, s, discoveryConnect(zap.NewNop()))
	if err != nil {
		return s, preflight.Result{Check: check, Status: preflight.Warn, Field: "discovery.hcloud",
			Detail: fmt.Sprintf("cannot poll: %v; the checks cover the state's own servers only", err),
			Fix:    "see the message; hakgen-agent validate shows what discovery finds"}
	}
	return res.State, preflight.Result{Check: check, Status: preflight.Pass, Field: "discovery.hcloud",
		Detail: fmt.Sprintf("%d control planes and %d workers in all (%d API requests)", len(res.State.ControlPlanes), len(res.State.Workers), res.Requests)}
}

// checks runs every check for the load balancer at index i.
func (o *doctorOptions) checks(ctx context.Context, s *state.State, i int) []preflight.Result {
	me := s.LoadBalancers[i]
	var results []preflight.Result
	results = append(results, preflight.Certificates(ctx, s, o.names)...)
	role := vrrpRole(s, failover.NewStore(o.stateDir))
	flag := failover.TrackFile{Path: filepath.Join(o.stateDir, render.MaintenanceFileName)}
	if down, err := flag.Down(); err == nil && down {
		results = append(results, preflight.Result{Check: "maintenance flag", Status: preflight.Fail,
			Detail: flag.Path + " says 1: this node is held out of MASTER (a drill runs, or one was interrupted)",
			Fix:    "once no drill runs: echo 0 > " + flag.Path})
	} else if err == nil {
		results = append(results, preflight.Result{Check: "maintenance flag", Status: preflight.Pass, Detail: "not set"})
	}
	results = append(results, instanceFlags(s, o.stateDir)...)
	wait := o.vrrpWait
	if wait <= 0 {
		wait = 3*time.Duration(s.Keepalived.AdvertInterval) + time.Second
	}
	results = append(results, preflight.VRRPAdverts(ctx, s, me.Name, role, wait))
	eps, err := hetzner.EndpointsFromEnv(os.Getenv)
	if err != nil {
		results = append(results, preflight.Result{Check: "endpoints", Status: preflight.Fail, Detail: err.Error()})
		return results
	}
	asked, err := hetzner.AskServerID(ctx, eps.Metadata, hetzner.DefaultMetadataTimeout)
	results = append(results, preflight.ServerID(fmt.Sprintf("loadBalancers[%d].serverID", i), me.ServerID, asked, err))
	results = append(results, preflight.SecretFiles(s, false)...)
	client := &tokenClient{tokenFile: tokenFileOf(s), endpoint: eps.API, log: zap.NewNop()}
	var api preflight.TokenAPI
	cl, err := client.client()
	if err == nil {
		api = cl
	}
	if fips := s.FloatingIPList(); len(fips) > 0 {
		results = append(results, preflight.Token(ctx, s, api, err, fips[0].ID))
	}
	if have, err := preflight.LocalInterfaces(); err == nil {
		results = append(results, preflight.Interfaces(s, me.Name, have)...)
	}
	if limit, err := fileLimit(ctx, o.unit); err == nil {
		results = append(results, preflight.MaxConnFits(s, limit))
	}
	results = append(results, preflight.Version(ctx, "haproxy", o.haproxyBin, 2, 6), preflight.Version(ctx, "keepalived", o.keepalivedBin, 2, 2))
	return append(results, preflight.Clock())
}

// instanceFlags checks the maintenance flag of each VRRP instance, when the
// pair has several: one that is set holds this node out of that instance.
func instanceFlags(s *state.State, stateDir string) []preflight.Result {
	ins := s.VRRPInstances()
	if len(ins) < 2 {
		return nil
	}
	var results []preflight.Result
	for _, in := range ins {
		flag := failover.TrackFile{Path: filepath.Join(stateDir, render.InstanceMaintenanceFile(in.Name))}
		if down, err := flag.Down(); err == nil && down {
			results = append(results, preflight.Result{Check: "maintenance flag of " + in.Name, Status: preflight.Fail,
				Detail: flag.Path + " says 1: this node is held out of MASTER of " + in.Name + " (drill --instance runs, or one was interrupted)",
				Fix:    "once no drill runs: echo 0 > " + flag.Path})
		}
	}
	return results
}

// vrrpRole is this node's VRRP role as notify recorded it: MASTER when it
// is MASTER of any instance (of the only one, while the pair has one).
func vrrpRole(s *state.State, store *failover.Store) preflight.VRRPRole {
	role := preflight.VRRPUnknown
	for _, in := range s.VRRPInstances() {
		rec, err := store.LatestFor(healInstance(s, in))
		switch {
		case err != nil || rec.State == "":
		case rec.State == failover.Master:
			return preflight.VRRPMaster
		default:
			role = preflight.VRRPOther
		}
	}
	return role
}

// printResult prints one check: PASS, WARN or FAIL, what was found, and
// for the last two the fix.
func printResult(e *env, r preflight.Result) {
	fmt.Fprintf(e.stdout, "%-4s  %s: %s\n", map[preflight.Status]string{preflight.Pass: "PASS", preflight.Warn: "WARN", preflight.Fail: "FAIL"}[r.Status], r.Check, r.Detail)
	if r.Status != preflight.Pass && r.Fix != "" {
		fmt.Fprintf(e.stdout, "      fix: %s\n", r.Fix)
	}
}

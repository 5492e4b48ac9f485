package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hakgen/hakgen/internal/atomicfile"
	"github.com/hakgen/hakgen/state"
)

const renderLong = `
Prints the haproxy.cfg a desired state renders to. Nothing else is touched.
Without --state or servers it renders the built-in example (3 control planes,
3 workers), so you can see the output at once. With --diff it prints what
would change in the running haproxy.cfg instead, and exits 1 when something
would change, 0 when the running file is current (as diff(1) does), so it can
gate a pipeline. With --keepalived it prints this node's keepalived.conf.

With a discovery.hcloud section, the servers its label selectors find now
(one poll of the Hetzner API) are rendered after the state's own and listed
on standard error; with --offline, those run kept in --discovered-file.`

const renderExamples = `  hakgen-agent render
  hakgen-agent render --state /etc/hakgen/state.yaml -o /tmp/haproxy.cfg
  hakgen-agent render --diff
  hakgen-agent render --offline
  hakgen-agent render --keepalived --node lb1
  hakgen-agent render --control-plane cp1=10.0.0.11 --control-plane cp2=10.0.0.12 \
      --control-plane cp3=10.0.0.13 --worker w1=10.0.0.21`

// renderOptions are the flags of render.
type renderOptions struct {
	state, output, running string
	controlPlanes, workers serverFlag
	diff                   bool
	offline                bool
	discovered             string
	keepalived             keepalivedOptions
}

func (o *renderOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.state, "state", "", "desired-state `FILE` (default: the built-in example)")
	fs.StringVarP(&o.output, "output", "o", "", "write to `FILE` atomically instead of standard output")
	fs.Var(&o.controlPlanes, "control-plane", "a control plane as `NAME=ADDR`; repeat for more (instead of --state)")
	fs.Var(&o.workers, "worker", "a worker as `NAME=ADDR`; repeat for more (instead of --state)")
	fs.BoolVar(&o.diff, "diff", false, "print a unified diff from the running config to the rendered one instead, and exit 1 when they differ (--state defaults to "+DefaultStatePath+")")
	fs.StringVar(&o.running, "haproxy-config", DefaultHAProxyConfig, "the running haproxy.cfg `FILE`, for --diff")
	fs.BoolVar(&o.offline, "offline", false, "with discovery.hcloud: render the discovered servers run kept in --discovered-file, without asking the Hetzner API")
	addDiscoveredFlag(fs, &o.discovered)
	o.keepalived.addFlags(fs)
}

func newRenderCommand(e *env) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:     "render",
		Short:   "print the haproxy.cfg (or keepalived.conf) a state renders to",
		Long:    renderLong,
		Example: renderExamples,
		Annotations: map[string]string{annotationSynopsis: "hakgen-agent render [--state FILE] [--offline] [-o FILE | --diff [--haproxy-config FILE]]\n" +
			"       hakgen-agent render --control-plane NAME=ADDR... [--worker NAME=ADDR...] [-o FILE]\n" +
			"       hakgen-agent render --keepalived [--state FILE] [--node NAME] [--agent-path PATH] [-o FILE]"},
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), e) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

func (o *renderOptions) run(ctx context.Context, e *env) error {
	if o.diff && o.output != "" {
		return usageErr("--diff prints what would change and writes nothing: it cannot be combined with -o")
	}
	statePath := o.state
	if o.diff && statePath == "" && len(o.controlPlanes)+len(o.workers) == 0 {
		statePath = DefaultStatePath
	}
	s, err := renderInput(ctx, statePath, o.controlPlanes, o.workers, e)
	if err != nil {
		return err
	}
	if !o.keepalived.on {
		res, err := discovered(ctx, s, o.offline, o.discovered, e.stderr)
		if err != nil {
			return err
		}
		s = res.State
	}
	cfg, err := o.keepalived.render(s, statePath, o.diff)
	if err != nil {
		return err
	}
	if o.diff {
		return printDiff(o.running, cfg, e)
	}
	return writeOutput(o.output, cfg, e, s.Stats.User != "" && !o.keepalived.on)
}

// renderInput picks the state to render: a file, servers from flags, or
// the built-in example.
func renderInput(ctx context.Context, path string, cps, workers serverFlag, e *env) (*state.State, error) {
	switch {
	case path != "" && len(cps)+len(workers) > 0:
		return nil, usageErr("--state cannot be combined with --control-plane or --worker")
	case path != "":
		return loadState(ctx, path, e.stderr)
	case len(cps)+len(workers) > 0:
		s, warnings, err := state.FromServers("command line", cps, workers)
		printWarnings(e.stderr, warnings)
		return s, err
	}
	s, _, err := state.Parse(state.ExampleName, state.Example)
	return s, err
}

// writeOutput writes data to path atomically (standard output for "" or
// "-"); a file that holds a secret (the stats password's hash) is made
// readable by root and the haproxy group only.
func writeOutput(path string, data []byte, e *env, secret bool) error {
	if path == "" || path == "-" {
		_, err := e.stdout.Write(data)
		return err
	}
	st, err := atomicfile.Stage(path, data, 0o644)
	if err == nil && secret {
		if err = st.Restrict("haproxy"); err != nil {
			st.Discard()
		}
	}
	if err == nil {
		err = st.Commit()
	}
	if err != nil {
		return envErr(err)
	}
	fmt.Fprintf(e.stderr, "wrote %s\n", path)
	return nil
}

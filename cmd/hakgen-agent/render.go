package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/hakgen/hakgen/internal/atomicfile"
	"github.com/hakgen/hakgen/state"
)

const renderUsage = `
Usage: hakgen-agent render [--state FILE] [-o FILE | --diff [--haproxy-config FILE]]
       hakgen-agent render --control-plane NAME=ADDR... [--worker NAME=ADDR...] [-o FILE]

Prints the haproxy.cfg a desired state renders to. Nothing else is touched.
Without --state or servers it renders the built-in example (3 control planes,
3 workers), so you can see the output at once. With --diff it prints what
would change in the running haproxy.cfg instead (nothing when it is current).

Examples:
  hakgen-agent render
  hakgen-agent render --state /etc/hakgen/state.yaml -o /tmp/haproxy.cfg
  hakgen-agent render --diff
  hakgen-agent render --control-plane cp1=10.0.0.11 --control-plane cp2=10.0.0.12 \
      --control-plane cp3=10.0.0.13 --worker w1=10.0.0.21
`

func renderCommand() command {
	return command{
		name:    "render",
		summary: "print the haproxy.cfg a state renders to",
		usage:   renderUsage,
		flags: func(fs *flag.FlagSet) func(context.Context, *env) error {
			var cps, workers serverFlag
			statePath := fs.String("state", "", "desired-state `FILE` (default: the built-in example)")
			out := fs.String("o", "", "write to `FILE` atomically instead of standard output")
			fs.Var(&cps, "control-plane", "a control plane as `NAME=ADDR`; repeat for more (instead of --state)")
			fs.Var(&workers, "worker", "a worker as `NAME=ADDR`; repeat for more (instead of --state)")
			diff := fs.Bool("diff", false, "print a unified diff from the running config to the rendered one instead (--state defaults to "+DefaultStatePath+")")
			running := fs.String("haproxy-config", DefaultHAProxyConfig, "the running haproxy.cfg `FILE`, for --diff")
			ka := addKeepalivedFlags(fs)
			return func(ctx context.Context, e *env) error {
				if *diff && *statePath == "" && len(cps)+len(workers) == 0 {
					*statePath = DefaultStatePath
				}
				s, err := renderInput(*statePath, cps, workers, e)
				if err != nil {
					return err
				}
				cfg, err := ka.render(s, *statePath, *diff)
				if err != nil {
					return err
				}
				if *diff {
					return printDiff(*running, cfg, e)
				}
				return writeOutput(*out, cfg, e)
			}
		},
	}
}

// renderInput picks the state to render: a file, servers from flags, or
// the built-in example.
func renderInput(path string, cps, workers serverFlag, e *env) (*state.State, error) {
	switch {
	case path != "" && len(cps)+len(workers) > 0:
		return nil, usageErr("--state cannot be combined with --control-plane or --worker")
	case path != "":
		return loadState(path, e.stderr)
	case len(cps)+len(workers) > 0:
		s, warnings, err := state.FromServers("command line", cps, workers)
		printWarnings(e.stderr, warnings)
		return s, err
	}
	s, _, err := state.Parse(state.ExampleName, state.Example)
	return s, err
}

func writeOutput(path string, data []byte, e *env) error {
	if path == "" || path == "-" {
		_, err := e.stdout.Write(data)
		return err
	}
	if _, err := atomicfile.Write(path, data, 0o644); err != nil {
		return envErr(err)
	}
	fmt.Fprintf(e.stderr, "wrote %s\n", path)
	return nil
}

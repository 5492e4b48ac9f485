package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

const validateUsage = `
Usage: hakgen-agent validate [--state FILE] [--haproxy-bin PATH]

Checks a desired state the whole way: parses and validates it, renders
haproxy.cfg into a temporary file and runs ` + "`haproxy -c`" + ` on it with the
flags Debian's haproxy.service uses. Every problem of the state is listed
with its file, line, column and field; HAProxy's own messages are printed
when it refuses the configuration. Nothing is installed or reloaded.

Examples:
  hakgen-agent validate
  hakgen-agent validate --state ./state.yaml --haproxy-bin /usr/local/sbin/haproxy
`

func validateCommand() command {
	return command{
		name:    "validate",
		summary: "check a state file and the haproxy.cfg it renders (haproxy -c)",
		usage:   validateUsage,
		flags: func(fs *flag.FlagSet) func(context.Context, *env) error {
			statePath := fs.String("state", DefaultStatePath, "desired-state `FILE`")
			bin := fs.String("haproxy-bin", "", "haproxy `binary` (default: "+haproxy.DefaultBin+", else haproxy in PATH)")
			return func(ctx context.Context, e *env) error {
				return validate(ctx, *statePath, *bin, e)
			}
		},
	}
}

func validate(ctx context.Context, statePath, bin string, e *env) error {
	s, err := loadState(statePath, e.stderr)
	if err != nil {
		return err
	}
	cfg, err := render.HAProxy(s)
	if err != nil {
		return err
	}
	if err := validateFailover(s); err != nil {
		return err
	}
	path, err := haproxy.FindBin(bin)
	if err != nil {
		return envErr(err)
	}
	tmp, err := writeTemp(cfg)
	if err != nil {
		return envErr(err)
	}
	defer os.Remove(tmp)
	warnings, err := haproxy.Checker{Bin: path, Args: haproxy.DebianServiceArgs}.Check(ctx, tmp)
	var refused *haproxy.CheckError
	switch {
	case errors.As(err, &refused):
		return fmt.Errorf("%s renders a haproxy.cfg that %s refuses:\n%s", statePath, path, strings.TrimRight(refused.Output, "\n"))
	case err != nil:
		return envErr(err)
	}
	if warnings != "" {
		fmt.Fprintf(e.stderr, "haproxy warnings:\n%s", warnings)
	}
	fmt.Fprintf(e.stdout, "%s is valid: %d control planes, %d workers, %d extra ports; haproxy.cfg passes %s -c\n",
		statePath, len(s.ControlPlanes), len(s.Workers), len(s.ExtraPorts), path)
	if isExample(statePath) {
		fmt.Fprintf(e.stderr, "note: %s still begins with the example marker line; hakgen-agent.service does not start until you remove it\n", statePath)
	}
	return nil
}

// writeTemp writes cfg to a private temporary file and returns its path.
func writeTemp(cfg []byte) (string, error) {
	f, err := os.CreateTemp("", "hakgen-validate-*.cfg")
	if err != nil {
		return "", fmt.Errorf("writing the rendered haproxy.cfg: %w", err)
	}
	_, werr := f.Write(cfg)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing the rendered haproxy.cfg: %w", err)
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

// Package agenttest is what tests and benchmarks of the agent need to run
// it against a real HAProxy on loopback: a render function that makes the
// production haproxy.cfg runnable by an unprivileged test HAProxy, backend
// servers that answer with their name (plain TCP or TLS), state files, and
// the ways editors and Kubernetes save a file.
package agenttest

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// rewrite is one change LoopbackRender makes to render.HAProxy's output.
type rewrite struct {
	what string
	re   *regexp.Regexp
	repl string
}

// LoopbackRender returns a render function for agent.Target: render.HAProxy,
// then the few production lines a test HAProxy cannot or must not use are
// rewritten. chroot, user and group are dropped (the test HAProxy runs as
// the test's user, without privileges to drop); the stats socket moves to
// adminSocket (a path the test owns instead of /run/haproxy/admin.sock); and
// every dual-stack wildcard bind (`bind :::PORT v4v6`) becomes
// `bind 127.0.0.1:PORT`, so the frontends listen on loopback only.
//
// Each rewrite must apply at least once: when the production template
// changes, the function fails instead of silently binding every address.
func LoopbackRender(adminSocket string) func(*state.State) ([]byte, error) {
	rewrites := []rewrite{
		{"chroot", regexp.MustCompile(`(?m)^    chroot \S+\n`), ""},
		{"user", regexp.MustCompile(`(?m)^    user \S+\n`), ""},
		{"group", regexp.MustCompile(`(?m)^    group \S+\n`), ""},
		{"stats socket", regexp.MustCompile(`(?m)^(    stats socket )/run/haproxy/admin\.sock `), "${1}" + strings.ReplaceAll(adminSocket, "$", "$$") + " "},
		{"wildcard bind", regexp.MustCompile(`(?m)^(    bind ):::(\d+) v4v6$`), "${1}127.0.0.1:${2}"},
	}
	return func(s *state.State) ([]byte, error) {
		cfg, err := render.HAProxy(s)
		if err != nil {
			return nil, err
		}
		for _, r := range rewrites {
			if !r.re.Match(cfg) {
				return nil, fmt.Errorf("agenttest: the rendered haproxy.cfg has no %s line to rewrite for loopback", r.what)
			}
			cfg = r.re.ReplaceAll(cfg, []byte(r.repl))
		}
		return cfg, nil
	}
}

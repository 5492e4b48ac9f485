// Package agenttest is what tests and benchmarks of the agent need to run
// it against a real HAProxy on loopback: a render function that makes the
// production haproxy.cfg runnable by an unprivileged test HAProxy, backend
// servers that answer with their name (plain TCP or TLS), state files, and
// the ways editors and Kubernetes save a file.
package agenttest

import (
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// LoopbackRender returns a render function for agent.Target: render.HAProxy,
// then haproxytest.Localize, so a test HAProxy runs the production file on
// loopback with its admin socket at adminSocket.
func LoopbackRender(adminSocket string) func(*state.State) ([]byte, error) {
	return func(s *state.State) ([]byte, error) {
		cfg, err := render.HAProxy(s)
		if err != nil {
			return nil, err
		}
		return haproxytest.Localize(cfg, adminSocket)
	}
}

package haproxytest

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hakgen/hakgen/haproxy"
)

// localRewrite is one change Localize makes.
type localRewrite struct {
	what string
	re   *regexp.Regexp
	repl string
}

// Localize adapts a haproxy.cfg rendered for a production host so that a
// test can run it with the host's HAProxy; see Build.Localize.
func Localize(cfg []byte, adminSocket string) ([]byte, error) {
	return Build{}.Localize(cfg, adminSocket)
}

// Localize adapts a haproxy.cfg rendered for a production host so that a
// test can run it with Start on this build: chroot, user and group are
// dropped (the test HAProxy has no privileges to drop), the admin socket
// moves to adminSocket (a path the test owns, on the host: for a chroot
// build, under TempDir) and the server-state file beside it (created, as
// the agent creates it, when missing), and every dual-stack wildcard bind
// (`bind :::PORT v4v6`) becomes `bind 127.0.0.1:PORT`, so the frontends
// listen on loopback only. The file names the socket and the state file
// as this build's HAProxy sees them (Inside). Everything else stays as
// rendered.
//
// Each rewrite must apply at least once: when the production template
// changes, Localize fails instead of letting a test bind every address.
func (b Build) Localize(cfg []byte, adminSocket string) ([]byte, error) {
	stateFile := filepath.Join(filepath.Dir(adminSocket), "server-state")
	if err := haproxy.EnsureServerState(stateFile); err != nil {
		return nil, err
	}
	rewrites := []localRewrite{
		{"server-state-file", regexp.MustCompile(`(?m)^(    server-state-file ).*$`), "${1}" + literal(b.Inside(stateFile))},
		{"chroot", regexp.MustCompile(`(?m)^    chroot /var/lib/haproxy\n`), ""},
		{"user", regexp.MustCompile(`(?m)^    user haproxy\n`), ""},
		{"group", regexp.MustCompile(`(?m)^    group haproxy\n`), ""},
		{"stats socket", regexp.MustCompile(`(?m)^(    stats socket )/run/haproxy/admin\.sock `), "${1}" + literal(b.Inside(adminSocket)) + " "},
		{"wildcard bind", regexp.MustCompile(`(?m)^(    bind ):::(\d+) v4v6$`), "${1}127.0.0.1:${2}"},
	}
	for _, r := range rewrites {
		if !r.re.Match(cfg) {
			return nil, fmt.Errorf("haproxytest: the rendered haproxy.cfg has no %s line to rewrite for a test", r.what)
		}
		cfg = r.re.ReplaceAll(cfg, []byte(r.repl))
	}
	return cfg, nil
}

// literal escapes s for a regexp replacement.
func literal(s string) string { return strings.ReplaceAll(s, "$", "$$") }

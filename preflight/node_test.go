package preflight_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/preflight"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// fdTestLimit is the hard file-descriptor limit HAProxy is started under.
const fdTestLimit = 4000

// TestMaxConnFitsAgreesWithHAProxy starts the real HAProxy on rendered
// configurations around the limit, under a hard file-descriptor limit of
// 4000: whenever MaxConnFits passes, HAProxy starts; whenever HAProxy
// refuses to start for its descriptors, MaxConnFits fails.
func TestMaxConnFitsAgreesWithHAProxy(t *testing.T) {
	bin := tooltest.Need(t, "haproxy")
	passed, refused := 0, 0
	for maxconn := 1800; maxconn <= 2000; maxconn += 20 {
		s := loopbackState(t, maxconn)
		fits := preflight.MaxConnFits(s, preflight.FDLimit{Hard: fdTestLimit, Source: "the test's limit"}).Status == preflight.Pass
		starts, out := startsUnderLimit(t, bin, s)
		// The random ports may be taken by another program: new ones.
		for try := 0; !starts && strings.Contains(out, "Address already in use") && try < 5; try++ {
			s = loopbackState(t, maxconn)
			starts, out = startsUnderLimit(t, bin, s)
		}
		switch {
		case fits && !starts:
			t.Errorf("maxconn %d: MaxConnFits passes, but HAProxy does not start:\n%s", maxconn, out)
		case !starts && !strings.Contains(out, "Cannot raise FD limit"):
			t.Fatalf("maxconn %d: HAProxy did not start for another reason:\n%s", maxconn, out)
		}
		if fits {
			passed++
		}
		if !starts {
			refused++
		}
	}
	if passed == 0 || refused == 0 {
		t.Errorf("the range tried %d passing and %d refused values: it must hold both", passed, refused)
	}
}

// loopbackState is a state of three control planes and three workers on
// loopback addresses, on random high ports, with haproxy.maxconn maxconn.
func loopbackState(t *testing.T, maxconn int) *state.State {
	t.Helper()
	p := 20000 + rand.IntN(20000)
	yaml := fmt.Sprintf(`controlPlanes: [{name: cp1, address: 127.0.0.11}, {name: cp2, address: 127.0.0.12}, {name: cp3, address: 127.0.0.13}]
workers: [{name: w1, address: 127.0.0.21}, {name: w2, address: 127.0.0.22}, {name: w3, address: 127.0.0.23}]
apiServer: {port: %d, healthCheck: tcp}
ingress: {http: {port: %d}, https: {port: %d}}
stats: {bind: "127.0.0.1:%d"}
haproxy: {maxconn: %d}
`, p, p+1, p+2, p+3, maxconn)
	s, _, err := state.Parse("state.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startsUnderLimit starts HAProxy on s's haproxy.cfg under the test's
// hard limit and reports whether it came up (still running after 1 s).
func startsUnderLimit(t *testing.T, bin string, s *state.State) (bool, string) {
	t.Helper()
	cfg, err := render.HAProxy(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if cfg, err = haproxytest.Localize(cfg, filepath.Join(dir, "admin.sock")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", fmt.Sprintf(`ulimit -Sn 1024 && ulimit -Hn %d && exec "$0" -db -f "$1"`, fdTestLimit), bin, path)
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return ctx.Err() != nil, out.String()
}

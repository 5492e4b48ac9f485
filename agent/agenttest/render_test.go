package agenttest_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/state"
)

// TestLoopbackRender: the production file loses exactly what a test HAProxy
// cannot use, and every frontend binds loopback only.
func TestLoopbackRender(t *testing.T) {
	st := agenttest.State{APIPort: 16443, APIBackendPort: 6443, HTTPPort: 18080, HTTPBackendPort: 80,
		HTTPSPort: 18443, HTTPSBackendPort: 443, StatsPort: 18404, Extra: []int{19345},
		ControlPlanes: []agenttest.Server{{Name: "cp1", Address: "127.0.0.2"}},
		Workers:       []agenttest.Server{{Name: "w1", Address: "127.0.0.3"}}}
	s, _, err := state.Parse("state.yaml", st.YAML())
	if err != nil {
		t.Fatal(err)
	}
	admin := filepath.Join(t.TempDir(), "admin.sock")
	cfg, err := agenttest.LoopbackRender(admin)(s)
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	for _, gone := range []string{"chroot", "\n    user ", "\n    group ", "/run/haproxy/admin.sock", ":::"} {
		if strings.Contains(text, gone) {
			t.Errorf("rewritten file still has %q", gone)
		}
	}
	binds := regexp.MustCompile(`(?m)^    bind (.*)$`).FindAllStringSubmatch(text, -1)
	if len(binds) != 5 {
		t.Errorf("%d bind lines, want 5 (api, http, https, extra, stats)", len(binds))
	}
	for _, b := range binds {
		if !strings.HasPrefix(b[1], "127.0.0.1:") {
			t.Errorf("bind %q is not on loopback", b[1])
		}
	}
	if !strings.Contains(text, "\n    stats socket "+admin+" mode 660 level admin") {
		t.Error("the stats socket was not moved")
	}
}

package render_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// TestStatsAuthWithRealHAProxy runs the rendered stats frontend in a real
// HAProxy: the SHA-512 crypt hash in haproxy.cfg must accept the password
// from the password file and nothing else, for the page and /metrics.
func TestStatsAuthWithRealHAProxy(t *testing.T) {
	dir := t.TempDir()
	statsPort, apiPort := haproxytest.FreePort(t), haproxytest.FreePort(t)
	yaml := fmt.Sprintf("controlPlanes:\n  - {name: cp1, address: 127.0.0.1}\napiServer: {port: %d, backendPort: 1, healthCheck: tcp}\n"+
		"stats: {bind: \"127.0.0.1:%d\", user: admin, passwordFile: pw}\nhaproxy: {maxconn: 1000}\n", apiPort, statsPort)
	writeSecret(t, filepath.Join(dir, "state.yaml"), yaml)
	writeSecret(t, filepath.Join(dir, "pw"), "correct horse\n")
	s, _, err := state.Load(filepath.Join(dir, "state.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := render.HAProxy(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "correct horse") {
		t.Fatal("haproxy.cfg holds the plain password")
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	local, err := haproxytest.Localize(cfg, filepath.Join(dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	writeSecret(t, cfgPath, string(local))
	haproxytest.Start(t, cfgPath)

	base := fmt.Sprintf("http://127.0.0.1:%d", statsPort)
	for _, c := range []struct {
		path, user, pass string
		want             int
	}{
		{"/", "", "", http.StatusUnauthorized},
		{"/", "admin", "wrong", http.StatusUnauthorized},
		{"/metrics", "", "", http.StatusUnauthorized},
		{"/", "admin", "correct horse", http.StatusOK},
		{"/metrics", "admin", "correct horse", http.StatusOK},
	} {
		code, body := get(t, base+c.path, c.user, c.pass)
		if code != c.want {
			t.Errorf("GET %s as %q/%q: %d, want %d", c.path, c.user, c.pass, code, c.want)
		}
		if code == http.StatusOK && c.path == "/metrics" && !strings.Contains(body, "haproxy_process_") {
			t.Errorf("/metrics is not the Prometheus exporter:\n%.300s", body)
		}
		if code == http.StatusOK && c.path == "/" && (!strings.Contains(body, "Statistics Report") || strings.Contains(body, "2.6.")) {
			t.Errorf("stats page missing or showing the version:\n%.300s", body)
		}
	}
}

func get(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body)
}

func writeSecret(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

package render_test

import (
	"fmt"
	"io"
	"net"
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

// TestBackendzWithRealHAProxy runs the rendered stats frontend in a real
// HAProxy: /backendz answers 503 while no public backend has a server up,
// 200 as soon as one has; /healthz answers 200 either way, and other paths
// are not taken by the /backendz rules.
func TestBackendzWithRealHAProxy(t *testing.T) {
	dir := t.TempDir()
	statsPort, apiPort, httpPort, httpsPort := haproxytest.FreePort(t), haproxytest.FreePort(t), haproxytest.FreePort(t), haproxytest.FreePort(t)
	backend := haproxytest.FreePort(t) // nothing listens yet: every server is down
	yaml := fmt.Sprintf("controlPlanes:\n  - {name: cp1, address: 127.0.0.1}\nworkers:\n  - {name: w1, address: 127.0.0.1}\n"+
		"apiServer: {port: %d, backendPort: %d, healthCheck: tcp}\ningress: {http: {port: %d, backendPort: %d}, https: {port: %d, backendPort: %d}}\n"+
		"stats: {bind: \"127.0.0.1:%d\"}\nhaproxy: {maxconn: 1000, checks: {interval: 200ms}}\n", apiPort, backend, httpPort, backend, httpsPort, backend, statsPort)
	s, _, err := state.Parse("state.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := render.HAProxy(s)
	if err != nil {
		t.Fatal(err)
	}
	local, err := haproxytest.Localize(cfg, filepath.Join(dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	writeSecret(t, cfgPath, string(local))
	haproxytest.Start(t, cfgPath)

	base := fmt.Sprintf("http://127.0.0.1:%d", statsPort)
	waitCode(t, base+"/backendz", http.StatusServiceUnavailable)
	if code, _ := get(t, base+"/healthz", "", ""); code != http.StatusOK {
		t.Errorf("/healthz with every backend down: %d, want 200", code)
	}
	ln := listenOn(t, backend) // the servers' port: up
	defer ln.Close()
	waitCode(t, base+"/backendz", http.StatusOK)
	if code, body := get(t, base+"/metrics", "", ""); code != http.StatusOK || !strings.Contains(body, "haproxy_process_") {
		t.Errorf("/metrics with a backend up: %d, not the exporter", code)
	}
}

// waitCode polls url (at most 10 s) until it answers want.
func waitCode(t *testing.T, url string, want int) {
	t.Helper()
	var code int
	for range 200 {
		if code, _ = get(t, url, "", ""); code == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s answers %d, want %d", url, code, want)
}

// listenOn accepts (and closes) connections on 127.0.0.1:port, which is
// what HAProxy's TCP check wants of a server that is up.
func listenOn(t *testing.T, port int) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

package render_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

func renderYAML(t *testing.T, yaml string) string {
	t.Helper()
	s, _, err := state.Parse("state.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := render.HAProxy(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(cfg)
}

// section returns the lines of the named section ("backend kube-api").
func section(cfg, header string) string {
	_, rest, ok := strings.Cut(cfg, "\n"+header+"\n")
	if !ok {
		return ""
	}
	if end := regexp.MustCompile(`\n\n`).FindStringIndex(rest); end != nil {
		rest = rest[:end[0]]
	}
	return rest
}

// TestProductionReady checks the example's haproxy.cfg item by item against
// "what production-ready means here" in the design, independently of the
// golden files.
func TestProductionReady(t *testing.T) {
	cfg := renderYAML(t, string(state.Example))
	must := map[string]string{
		"global":                 "maxconn 50100|hard-stop-after 15m|log /dev/log local0|mworker-max-reloads 50|server-state-file /var/lib/hakgen/haproxy-server-state",
		"defaults":               "mode tcp|option tcplog|option log-health-checks|timeout tunnel 1h|timeout client-fin 10s|timeout connect 5s|timeout check 5s|load-server-state-from-file global|default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2 slowstart 10s init-addr last,libc,none",
		"frontend kube-api":      "bind :::6443 v4v6|maxconn 10000|tcp-request inspect-delay 5s|tcp-request content accept if { req.ssl_hello_type 1 }|tcp-request content reject",
		"backend kube-api":       "option httpchk|http-check connect ssl|http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host kubernetes|http-check expect status 200|server cp1 10.0.0.11:6443 check on-marked-down shutdown-sessions verify none",
		"frontend ingress-http":  "bind :::80 v4v6|maxconn 10000|option dontlog-normal|tcp-request content accept if { req.len gt 0 }|tcp-request content reject",
		"frontend ingress-https": "bind :::443 v4v6|maxconn 25000|option dontlog-normal|tcp-request content accept if { req.ssl_hello_type 1 }|tcp-request content reject",
		"backend ingress-https":  "server w3 10.0.0.23:443 check on-marked-down shutdown-sessions",
		"frontend stats":         "mode http|maxconn 100|monitor-uri /healthz|bind 10.0.0.5:8404|stats hide-version|http-request use-service prometheus-exporter if { path /metrics }",
	}
	for header, lines := range must {
		body := section(cfg, header)
		if body == "" {
			t.Errorf("no section %q", header)
			continue
		}
		for _, line := range strings.Split(lines, "|") {
			if !strings.Contains(body, "    "+line+"\n") && !strings.HasSuffix(body, "    "+line) {
				t.Errorf("%s lacks %q", header, line)
			}
		}
	}
	for _, never := range []string{"ssl-hello-chk", "mode http\n    bind :::", "daemon", "insecure-password"} {
		if strings.Contains(cfg, never) {
			t.Errorf("config contains %q", never)
		}
	}
	if n := strings.Count(cfg, "\n    server "); n != 3+3+3 {
		t.Errorf("%d server lines, want 9 (3 API, 3+3 ingress)", n)
	}
}

func TestNoWorkersNoIngress(t *testing.T) {
	cfg := renderYAML(t, "controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\n")
	if strings.Contains(cfg, "ingress") || strings.Contains(cfg, ":::80 ") || strings.Contains(cfg, ":::443 ") {
		t.Errorf("ingress rendered without workers:\n%s", cfg)
	}
}

func TestProxyProtocolOnlyToWorkers(t *testing.T) {
	cfg := renderYAML(t, "controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\nworkers:\n  - {name: w1, address: 10.0.0.21}\ningress: {proxyProtocol: true}\n")
	for _, b := range []string{"backend ingress-http", "backend ingress-https"} {
		if !strings.Contains(section(cfg, b), "server w1 10.0.0.21:") || !strings.Contains(section(cfg, b), " send-proxy-v2 check-send-proxy") {
			t.Errorf("%s does not send PROXY v2 (and check with it):\n%s", b, section(cfg, b))
		}
	}
	if strings.Contains(section(cfg, "backend kube-api"), "send-proxy") {
		t.Error("the API servers must not receive PROXY headers")
	}
}

func TestTCPHealthCheck(t *testing.T) {
	cfg := renderYAML(t, "controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\napiServer: {healthCheck: tcp}\n")
	api := section(cfg, "backend kube-api")
	if strings.Contains(api, "httpchk") || strings.Contains(api, "http-check") || strings.Contains(api, "verify none") {
		t.Errorf("tcp health check renders HTTP checking:\n%s", api)
	}
	if !strings.Contains(api, "server cp1 10.0.0.11:6443 check") {
		t.Errorf("no checked server line:\n%s", api)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	first := renderYAML(t, string(state.Example))
	for range 5 {
		if renderYAML(t, string(state.Example)) != first {
			t.Fatal("two renders of the same state differ")
		}
	}
}

// TestRenderRefusesUnsafeWords is the last line of defence: a state that
// bypassed validation must still not inject a directive.
func TestRenderRefusesUnsafeWords(t *testing.T) {
	s, _, err := state.Parse("state.yaml", []byte("controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.ControlPlanes[0].Name = "cp1 check\n    server evil 192.0.2.66:6443"
	_, err = render.HAProxy(s)
	if err == nil || !strings.Contains(err.Error(), "not a single safe word") {
		t.Fatalf("err = %v, want a refusal", err)
	}
}

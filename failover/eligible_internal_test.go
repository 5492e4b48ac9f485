package failover

import (
	"net/http"
	"testing"
)

// TestCheckClientUsesNoProxy: keepalived's check asks HAProxy (and the
// peers) directly, whatever proxy variables keepalived's environment has:
// a proxy answering for a dead HAProxy would keep this node MASTER. (Go
// exempts only loopback from the variables, so a test server on loopback
// could not tell.)
func TestCheckClientUsesNoProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://192.0.2.1:3128")
	t.Setenv("http_proxy", "http://192.0.2.1:3128")
	tr, ok := noProxyClient().Transport.(*http.Transport)
	if !ok {
		t.Fatalf("check transport is %T, want *http.Transport", noProxyClient().Transport)
	}
	if tr.Proxy != nil {
		req, _ := http.NewRequest(http.MethodGet, "http://10.0.0.6:8404/healthz", nil)
		u, err := tr.Proxy(req)
		t.Errorf("checks go through proxy %v (%v), want none", u, err)
	}
}

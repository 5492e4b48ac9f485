package hetzner

import (
	"net/http"
	"testing"
)

// TestMetadataClientUsesNoProxy: the metadata service is asked directly,
// whatever the proxy variables say. (Go exempts only loopback from them,
// so a test server on loopback could not tell.)
func TestMetadataClientUsesNoProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://192.0.2.1:3128")
	t.Setenv("http_proxy", "http://192.0.2.1:3128")
	tr, ok := metadataHTTPClient().Transport.(*http.Transport)
	if !ok {
		t.Fatalf("metadata transport is %T, want *http.Transport", metadataHTTPClient().Transport)
	}
	if tr.Proxy != nil {
		req, _ := http.NewRequest(http.MethodGet, "http://169.254.169.254/hetzner/v1/metadata/instance-id", nil)
		u, err := tr.Proxy(req)
		t.Errorf("metadata requests go through proxy %v (%v), want none", u, err)
	}
}

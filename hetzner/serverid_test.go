package hetzner_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

func TestServerIDAsksOnceThenUsesTheCache(t *testing.T) {
	f := hetznertest.New(t)
	dir := filepath.Join(t.TempDir(), "run", "hakgen")
	src := hetzner.NewServerIDSource(f.MetadataEndpoint(), dir, zap.NewNop())

	for range 3 {
		id, err := src.ServerID(t.Context())
		if err != nil || id != me {
			t.Fatalf("ServerID = %d, %v; want %d", id, err, me)
		}
	}
	wantEndpoints(t, f, epMeta)
	b, err := os.ReadFile(filepath.Join(dir, hetzner.ServerIDCacheFile))
	if err != nil || string(b) != "1001\n" {
		t.Errorf("cache = %q, %v", b, err)
	}
	// Another source with the same directory, as the next notify run.
	if id, _ := hetzner.NewServerIDSource(f.MetadataEndpoint(), dir, zap.NewNop()).ServerID(t.Context()); id != me {
		t.Errorf("ServerID from the cache = %d", id)
	}
	wantEndpoints(t, f, epMeta)
}

func TestServerIDIgnoresABrokenCache(t *testing.T) {
	f := hetznertest.New(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, hetzner.ServerIDCacheFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := hetzner.NewServerIDSource(f.MetadataEndpoint(), dir, zap.NewNop()).ServerID(t.Context())
	if err != nil || id != me {
		t.Fatalf("ServerID = %d, %v", id, err)
	}
	wantEndpoints(t, f, epMeta)
}

func TestServerIDMetadataFailureIsOneRequest(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(epMeta, 1, hetznertest.ServerError(http.StatusInternalServerError))
	dir := t.TempDir()

	if _, err := hetzner.NewServerIDSource(f.MetadataEndpoint(), dir, zap.NewNop()).ServerID(t.Context()); err == nil {
		t.Fatal("ServerID succeeded on a failing metadata service")
	}
	wantEndpoints(t, f, epMeta)
	if _, err := os.Stat(filepath.Join(dir, hetzner.ServerIDCacheFile)); !os.IsNotExist(err) {
		t.Errorf("a failure left a cache: %v", err)
	}
}

func TestEndpointsFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	got, err := hetzner.EndpointsFromEnv(env(nil))
	if err != nil || got != hetzner.DefaultEndpoints {
		t.Errorf("no overrides = %+v, %v; want Hetzner's", got, err)
	}
	got, err = hetzner.EndpointsFromEnv(env(map[string]string{
		hetzner.EnvEndpoint:         "http://127.0.0.1:8080/v1/",
		hetzner.EnvMetadataEndpoint: "http://127.0.0.1:8081/hetzner/v1/metadata",
	}))
	want := hetzner.Endpoints{API: "http://127.0.0.1:8080/v1", Metadata: "http://127.0.0.1:8081/hetzner/v1/metadata"}
	if err != nil || got != want {
		t.Errorf("overrides = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"api.example.com", "ftp://x/", "https://user:pw@x/v1"} {
		if _, err := hetzner.EndpointsFromEnv(env(map[string]string{hetzner.EnvEndpoint: bad})); err == nil {
			t.Errorf("HCLOUD_ENDPOINT=%s accepted", bad)
		}
	}
}

package hetzner_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

const (
	fip  = hetznertest.FloatingIPID
	me   = hetznertest.ThisServer
	peer = hetznertest.OtherServer
)

// The endpoints of the failover path.
const (
	epAssign = hetznertest.Assign
	epPoll   = hetznertest.ListActions
	epGet    = hetznertest.GetFloatingIP
	epMeta   = hetznertest.Metadata
)

// testToken is what the fake demands; errors and logs must never show it.
const testToken = "s3cr3t-t0ken-value"

// fastConfig keeps waits short so retries finish quickly; the request
// timeout stays generous, since the machine running tests may be busy.
func fastConfig(f *hetznertest.Fake) hetzner.Config {
	return hetzner.Config{
		Endpoint:       f.APIEndpoint(),
		Token:          testToken,
		RequestTimeout: 5 * time.Second,
		Deadline:       20 * time.Second,
		PollInterval:   5 * time.Millisecond,
		RetryBackoff:   5 * time.Millisecond,
		LockedBackoff:  5 * time.Millisecond,
	}
}

// newClient returns a client of the fake, and the log lines it wrote.
func newClient(t *testing.T, f *hetznertest.Fake, edit ...func(*hetzner.Config)) (*hetzner.Client, *observer.ObservedLogs) {
	t.Helper()
	f.RequireToken(testToken)
	cfg := fastConfig(f)
	for _, e := range edit {
		e(&cfg)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	c, err := hetzner.NewClient(cfg, zap.New(core))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, logs
}

func wantEndpoints(t *testing.T, f *hetznertest.Fake, want ...hetznertest.Endpoint) {
	t.Helper()
	if got := f.Endpoints(); !slices.Equal(got, want) {
		t.Errorf("requests = %v, want %v", got, want)
		for _, r := range f.Requests() {
			t.Logf("  %s -> %d", r, r.Status)
		}
	}
}

// repeat returns n copies of ep.
func repeat(n int, ep hetznertest.Endpoint) []hetznertest.Endpoint {
	return slices.Repeat([]hetznertest.Endpoint{ep}, n)
}

func seq(parts ...[]hetznertest.Endpoint) []hetznertest.Endpoint {
	return slices.Concat(parts...)
}

func noSecret(t *testing.T, err error, logs *observer.ObservedLogs) {
	t.Helper()
	if err != nil && containsToken(err.Error()) {
		t.Errorf("error shows the token: %v", err)
	}
	if logs == nil {
		return
	}
	for _, e := range logs.All() {
		if containsToken(e.Message) || containsToken(fieldsString(e)) {
			t.Errorf("log line shows the token: %s %v", e.Message, e.ContextMap())
		}
	}
}

func containsToken(s string) bool { return strings.Contains(s, testToken) }

func fieldsString(e observer.LoggedEntry) string { return fmt.Sprint(e.ContextMap()) }

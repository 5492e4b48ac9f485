//go:build linux

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/e2e/sdbox"
)

// pollTries and pollPause bound every wait of these tests: 10 s at most.
const (
	pollTries = 200
	pollPause = 50 * time.Millisecond
)

// eventually retries check until it returns nil, at most pollTries times,
// and fails t with the last error otherwise.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	var err error
	for range pollTries {
		if err = check(); err == nil {
			return
		}
		time.Sleep(pollPause)
	}
	t.Fatalf("%s: still failing after %d tries: %v", what, pollTries, err)
}

// eventuallyWithin retries check every pollPause until it returns nil or
// within has passed, and fails t with the last error otherwise.
func eventuallyWithin(t *testing.T, within time.Duration, what string, check func() error) {
	t.Helper()
	var err error
	for range int(within / pollPause) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(pollPause)
	}
	t.Fatalf("%s: still failing after %s: %v", what, within, err)
}

// run runs argv inside m and fails t when it fails.
func run(t *testing.T, m *sdbox.Machine, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sdbox.CommandTimeout)
	defer cancel()
	out, err := m.Run(ctx, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// systemctl runs systemctl inside m and fails t when it fails.
func systemctl(t *testing.T, m *sdbox.Machine, args ...string) string {
	t.Helper()
	out, err := m.Systemctl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// property returns a unit property and fails t when systemctl fails.
func property(t *testing.T, m *sdbox.Machine, unit, name string) string {
	t.Helper()
	v, err := m.Property(unit, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// writeFile writes a file inside m and fails t when that fails.
func writeFile(t *testing.T, m *sdbox.Machine, path, content string) {
	t.Helper()
	if err := m.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// TestHealerReadsTheTokenForEachCheck: a token file fixed after the daemon
// started (here: its mode) is used by the next check, without a restart.
func TestHealerReadsTheTokenForEachCheck(t *testing.T) {
	fake := hetznertest.New(t)
	fake.RequireToken(notifyToken)
	tokenFile := filepath.Join(t.TempDir(), "hcloud-token")
	if err := os.WriteFile(tokenFile, []byte(notifyToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tokenFile, 0o644); err != nil {
		t.Fatal(err)
	}
	c := &tokenClient{tokenFile: tokenFile, endpoint: fake.APIEndpoint(), log: zaptest.NewLogger(t)}
	if _, err := c.Owner(context.Background(), fipID); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("an exposed token file was used: %v", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d requests with a refused token, want none", n)
	}
	if err := os.Chmod(tokenFile, 0o600); err != nil {
		t.Fatal(err)
	}
	owner, err := c.Owner(context.Background(), fipID)
	if err != nil || owner != fake.Owner(fipID) {
		t.Fatalf("after chmod 600: owner %d, %v; want %d", owner, err, fake.Owner(fipID))
	}
}

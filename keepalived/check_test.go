package keepalived_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/keepalived"
)

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckWithRealKeepalived(t *testing.T) {
	bin := tooltest.Need(t, "keepalived")
	c := keepalived.Checker{Bin: bin}
	if _, err := c.Check(context.Background(), write(t, "global_defs {\n    router_id hakgen\n}\n")); err != nil {
		t.Errorf("a valid file was refused: %v", err)
	}
	_, err := c.Check(context.Background(), write(t, "global_defs {\n    bogus_keyword 1\n}\n"))
	var refused *keepalived.CheckError
	if !errors.As(err, &refused) || refused.ExitCode != 5 || !strings.Contains(refused.Output, "Unknown keyword 'bogus_keyword'") || !refused.Refused() {
		t.Errorf("a file with an unknown keyword: %v", err)
	}
}

func TestCheckWithoutKeepalived(t *testing.T) {
	_, err := keepalived.Checker{Bin: "/nonexistent/keepalived"}.Check(context.Background(), write(t, ""))
	var refused *keepalived.CheckError
	if err == nil || errors.As(err, &refused) {
		t.Errorf("a missing binary must be an error other than a refusal: %v", err)
	}
}

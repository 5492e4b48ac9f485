package childproc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunBoundsOutput: a child that prints without end (here 4 MiB) costs
// at most MaxOutput bytes, and the output says how much was dropped.
func TestRunBoundsOutput(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "chatty")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nhead -c 4194304 /dev/zero | tr '\\000' x\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := Run(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	want := "\n[" + "3145728 more bytes of output dropped]\n"
	if len(out) != MaxOutput+len(want) || !strings.HasSuffix(out, want) {
		t.Errorf("output of %d bytes ending %q; want %d bytes and the note %q", len(out), out[max(0, len(out)-60):], MaxOutput+len(want), want)
	}
}

func TestEnvWithoutPath(t *testing.T) {
	t.Setenv("PATH", "")
	if got := Env(); len(got) != 1 || got[0] != "PATH="+DefaultPath {
		t.Errorf("Env() = %q, want only PATH=%s", got, DefaultPath)
	}
}

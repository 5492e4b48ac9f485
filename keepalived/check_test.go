package keepalived_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// standIn writes an executable shell script standing in for keepalived.
func standIn(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keepalived")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckWithoutVerdictIsNoRefusal: a keepalived that dies by a signal,
// exits with a status that does not judge the file, or says nothing gave
// no verdict: an environment problem, with what happened.
func TestCheckWithoutVerdictIsNoRefusal(t *testing.T) {
	for _, c := range []struct{ name, script, want string }{
		{"killed by a signal", "echo '(Line 2) Unknown keyword'\nkill -SEGV $$\n", "was killed by signal 11 (segmentation fault) without keepalived's verdict"},
		{"out of memory", "echo 'Keepalived out of memory'\nexit 1\n", `exited with status 1 without keepalived's verdict (the file was not judged): output "Keepalived out of memory"`},
		{"silent", "exit 4\n", "exited with status 4 without keepalived's verdict (the file was not judged): no output"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := keepalived.Checker{Bin: standIn(t, c.script)}.Check(ctx, write(t, ""))
			var refusal interface{ Refused() bool }
			if err == nil || errors.As(err, &refusal) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check error = %v; want an error other than a refusal, saying %q", err, c.want)
			}
		})
	}
}

// TestCheckHangIsKilled: a keepalived -t that never ends is killed with
// its process group at the deadline, and Check returns.
func TestCheckHangIsKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := keepalived.Checker{Bin: standIn(t, "sleep 600 &\nwait\n")}.Check(ctx, write(t, ""))
		done <- err
	}()
	select {
	case err := <-done:
		var refusal interface{ Refused() bool }
		if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &refusal) {
			t.Fatalf("Check error = %v; want the deadline, not a refusal", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Check did not return within 30 s of a 500 ms deadline")
	}
}

// TestCheckScrubsEnvironment: nothing of the agent's environment but PATH
// reaches keepalived -t.
func TestCheckScrubsEnvironment(t *testing.T) {
	t.Setenv("HCLOUD_TOKEN", "secret-token-value")
	t.Setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
	dump := filepath.Join(t.TempDir(), "environ")
	bin := standIn(t, "tr '\\000' '\\n' < /proc/$$/environ > "+dump+"\n")
	if _, err := (keepalived.Checker{Bin: bin}).Check(context.Background(), write(t, "")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != "PATH="+os.Getenv("PATH") {
		t.Errorf("keepalived's environment holds %d variables; want only the agent's PATH (HCLOUD_TOKEN there: %v)",
			len(strings.Fields(got)), strings.Contains(got, "HCLOUD_TOKEN="))
	}
}

package haproxy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
)

// standIn writes an executable shell script standing in for haproxy.
func standIn(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "haproxy")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func cfgFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte("global\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckWithoutVerdictIsNoRefusal: a haproxy that dies by a signal (even
// after printing an alert) or exits without any alert gave no verdict on
// the file. That is an environment problem, retried, with what happened;
// not a refused file.
func TestCheckWithoutVerdictIsNoRefusal(t *testing.T) {
	for _, c := range []struct{ name, script, want string }{
		{"killed by a signal", "echo '[ALERT]    (1) : config : parsing [x.cfg:3] : unknown'\nkill -SEGV $$\n", "was killed by signal 11 (segmentation fault) without HAProxy's verdict"},
		{"exit without an alert", "echo 'Segmentation fault (core dumped)' >&2\nexit 139\n", `exited with status 139 without HAProxy's verdict (no alert; the file was not judged): output "Segmentation fault (core dumped)"`},
		{"exit without output", "exit 1\n", "exited with status 1 without HAProxy's verdict (no alert; the file was not judged): no output"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := haproxy.Checker{Bin: standIn(t, c.script)}.Check(ctx, cfgFile(t))
			var refusal interface{ Refused() bool }
			if err == nil || errors.As(err, &refusal) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check error = %v; want an error other than a refusal, saying %q", err, c.want)
			}
		})
	}
}

// TestCheckRefusalNeedsAlert: the stand-in refuses as HAProxy does (an
// alert, exit 1); that stays a refusal.
func TestCheckRefusalNeedsAlert(t *testing.T) {
	bin := standIn(t, "echo '[ALERT]    (7) : config : Fatal errors found in configuration.' >&2\nexit 1\n")
	_, err := haproxy.Checker{Bin: bin}.Check(context.Background(), cfgFile(t))
	var refused *haproxy.CheckError
	if !errors.As(err, &refused) || refused.ExitCode != 1 || !strings.Contains(refused.Output, "[ALERT] config : Fatal errors") {
		t.Fatalf("Check error = %v; want a *CheckError with the alert", err)
	}
}

// TestCheckHangIsKilled: a haproxy that never ends (here: one that waits
// for a child of its own holding the output pipe) is killed with its whole
// process group when the deadline passes, and Check returns.
func TestCheckHangIsKilled(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "sleep.pid")
	bin := standIn(t, "sleep 600 &\necho $! > "+pidFile+"\nwait\n")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := haproxy.Checker{Bin: bin}.Check(ctx, cfgFile(t))
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Check did not return within 30 s of a 500 ms deadline")
	}
	var refusal interface{ Refused() bool }
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &refusal) || !strings.Contains(err.Error(), "stopped (killed) before its verdict") {
		t.Fatalf("Check error = %v; want the deadline, not a refusal", err)
	}
	assertGone(t, pidFile)

	// Without a deadline of the caller, Checker.Timeout bounds the check.
	_, err = haproxy.Checker{Bin: standIn(t, "exec sleep 600\n"), Timeout: 200 * time.Millisecond}.Check(context.Background(), cfgFile(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check error = %v; want Timeout's deadline", err)
	}
}

// assertGone waits (bounded) until the process whose PID is in pidFile has
// exited: it is gone or a zombie awaiting its new parent.
func assertGone(t *testing.T, pidFile string) {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	for range 250 {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, os.ErrNotExist) || (err == nil && strings.Contains(string(stat), ") Z ")) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL) // the stand-in's own child: ours to end
	t.Errorf("the stand-in's child %d still runs after Check returned", pid)
}

// TestCheckScrubsEnvironment: nothing of the agent's environment but PATH
// reaches haproxy: not the Hetzner token, not proxy settings.
func TestCheckScrubsEnvironment(t *testing.T) {
	t.Setenv("HCLOUD_TOKEN", "secret-token-value")
	t.Setenv("HTTP_PROXY", "http://proxy.invalid:3128")
	t.Setenv("https_proxy", "http://proxy.invalid:3128")
	dump := filepath.Join(t.TempDir(), "environ")
	bin := standIn(t, "tr '\\000' '\\n' < /proc/$$/environ > "+dump+"\n")
	if _, err := (haproxy.Checker{Bin: bin}).Check(context.Background(), cfgFile(t)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	var names []string // names only: the test's environment may hold secrets
	for _, kv := range strings.Fields(string(data)) {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	if len(names) != 1 || strings.TrimSpace(string(data)) != "PATH="+os.Getenv("PATH") {
		t.Errorf("haproxy's environment has %q; want only the agent's PATH", names)
	}
}

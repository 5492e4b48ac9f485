package agent

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/internal/atomicfile"
)

// The crash tests run a reconcile in a child process (this test binary,
// running TestCrashChild) and SIGKILL it, then check that the target holds
// the old or the new file whole, and that the next run completes the job.

const (
	envCrashDir   = "HAKGEN_AGENT_CRASH_DIR"
	envCrashPoint = "HAKGEN_AGENT_CRASH_AT" // a hook point, or "loop"
	childTimeout  = 20 * time.Second
)

// TestCrashChild is the child process; it does nothing in a normal run.
// At a hook point it prints "AT point" and blocks until killed; with
// "loop" it reconciles forever, alternating the two states.
func TestCrashChild(t *testing.T) {
	dir, point := os.Getenv(envCrashDir), os.Getenv(envCrashPoint)
	if dir == "" {
		t.Skip("helper process of the crash tests")
	}
	f := fixtureIn(dir)
	a, err := New(f.config(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	s0, s1 := states()
	if point == "loop" {
		fmt.Println("AT loop")
		for i := 0; ; i++ {
			writeFile(t, f.statePath, []agenttest.State{s0, s1}[i%2].YAML())
			a.reconcileOnce(context.Background())
		}
	}
	// A first reconcile as Run does, recording what the service runs.
	l := &loop{Agent: a}
	l.step(context.Background(), TriggerStart)
	writeFile(t, f.statePath, s1.YAML())
	a.hook = func(p string) {
		if p == point {
			fmt.Println("AT " + p)
			select {} // until killed
		}
	}
	l.step(context.Background(), TriggerFile)
	t.Fatalf("reconcile finished without reaching %s", point)
}

// fixtureIn is newFixture's layout in an existing directory, for the child.
func fixtureIn(dir string) *fixture {
	f := &fixture{dir: dir, checker: &fakeChecker{}}
	f.statePath, f.target = dir+"/hakgen/state.yaml", dir+"/haproxy/haproxy.cfg"
	f.lastGood, f.statusPath = dir+"/lib/haproxy.cfg.last-good", dir+"/run/status.json"
	f.reloader = &fakeReloader{target: f.target}
	return f
}

// crashChild starts the child on dir and kills it once it printed "AT
// point" and then, if delay > 0, after delay.
func crashChild(t *testing.T, dir, point string, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashPoint+"="+point)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	reached := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "AT "+point {
				reached <- true
				return
			}
		}
		reached <- false
	}()
	select {
	case ok := <-reached:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("child ended before %s:\n%s", point, stderr.String())
		}
	case <-time.After(childTimeout):
		t.Fatalf("child did not reach %s within %s", point, childTimeout)
	}
	time.Sleep(delay)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// TestCrashAtEachPoint kills the agent at every step between staging and
// reloading: the target is the old file before the rename, the new one
// after it, whole either way; the next run cleans up, installs the new
// file and reloads once.
func TestCrashAtEachPoint(t *testing.T) {
	s0, s1 := states()
	old, want := rendered(t, s0), rendered(t, s1)
	for _, tc := range []struct {
		point   string
		renamed bool
	}{{pointStaged, false}, {pointChecked, false}, {pointLastGood, false}, {pointRenamed, true}} {
		t.Run(tc.point, func(t *testing.T) {
			f := newFixture(t)
			writeFile(t, f.statePath, s0.YAML())
			writeFile(t, f.target, old)
			crashChild(t, f.dir, tc.point, 0)

			got := readFile(t, f.target)
			if tc.renamed && !bytes.Equal(got, want) || !tc.renamed && !bytes.Equal(got, old) {
				t.Fatalf("after a kill at %s the target holds %d bytes, want the %s file whole", tc.point, len(got), map[bool]string{true: "new", false: "old"}[tc.renamed])
			}
			left, _ := atomicfile.Leftovers(f.target)
			if !tc.renamed && len(left) != 1 {
				t.Errorf("staged files beside the target after the kill: %v, want the one staged", left)
			}
			a := f.agent(t)
			a.removeLeftovers()
			assertNoLeftovers(t, f.target)
			r := reconcile(t, a)
			if r.Outcome != OutcomeApplied || f.reloader.calls() != 1 {
				t.Fatalf("next run: %s with %d reloads; want applied with 1", r.Outcome, f.reloader.calls())
			}
			if !bytes.Equal(readFile(t, f.target), want) || !bytes.Equal(readFile(t, f.lastGood), old) {
				t.Error("next run: want the new file in place and the old one as last-known-good")
			}
		})
	}
}

// TestCrashAtRandom kills a child that reconciles in a loop at random
// moments: the target is always one of the two rendered files, whole.
func TestCrashAtRandom(t *testing.T) {
	s0, s1 := states()
	valid := [][]byte{rendered(t, s0), rendered(t, s1)}
	f := newFixture(t)
	writeFile(t, f.statePath, s0.YAML())
	writeFile(t, f.target, valid[0])
	for i := range 8 {
		crashChild(t, f.dir, "loop", time.Duration(rand.IntN(30))*time.Millisecond)
		got := readFile(t, f.target)
		if !bytes.Equal(got, valid[0]) && !bytes.Equal(got, valid[1]) {
			t.Fatalf("kill %d: the target is neither rendered file (%d bytes):\n%s", i, len(got), got)
		}
		if strings.Count(string(got), "\nglobal\n") != 1 {
			t.Fatalf("kill %d: target is not one whole file", i)
		}
	}
}

package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap/zaptest"

	"github.com/hakgen/hakgen/agent/agenttest"
)

// hintWait bounds the wait for one hint (an upper bound, not a latency).
const hintWait = 5 * time.Second

func startWatch(t *testing.T, path string) *watcher {
	t.Helper()
	w, err := watch(path, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// drain empties the hint channel after events settle for 100 ms, bounded.
func drain(w *watcher) {
	for range 100 {
		select {
		case <-w.hints:
		case <-time.After(100 * time.Millisecond):
			return
		}
	}
}

func expectHint(t *testing.T, w *watcher, what string) {
	t.Helper()
	select {
	case got := <-w.hints:
		if got != TriggerFile {
			t.Errorf("%s: hint %q, want %q", what, got, TriggerFile)
		}
	case <-time.After(hintWait):
		t.Fatalf("%s: no hint within %s", what, hintWait)
	}
}

// TestWatchSavePatterns: every way of saving the state file gives a hint.
func TestWatchSavePatterns(t *testing.T) {
	for name, save := range agenttest.SavePatterns() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.yaml")
			if err := save(path, []byte("v0\n")); err != nil {
				t.Fatal(err)
			}
			w := startWatch(t, path)
			for i := 1; i <= 3; i++ {
				drain(w)
				if err := save(path, []byte("v"+string(rune('0'+i))+"\n")); err != nil {
					t.Fatal(err)
				}
				expectHint(t, w, name)
			}
			if got := readFile(t, path); string(got) != "v3\n" {
				t.Errorf("%s saved %q, want v3", name, got)
			}
		})
	}
}

// TestWatchIgnoresOtherFilesAndChmod: other files in the directory and a
// change of mode alone give no hint; a real edit afterwards still does.
func TestWatchIgnoresOtherFilesAndChmod(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.yaml")
	writeFile(t, path, []byte("v0\n"))
	w := startWatch(t, path)
	writeFile(t, filepath.Join(dir, "hcloud-token"), []byte("x"))
	writeFile(t, filepath.Join(dir, "state.yaml.bak"), []byte("x"))
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-w.hints:
		t.Fatalf("hint %q for other files or a chmod", got)
	case <-time.After(300 * time.Millisecond):
	}
	writeFile(t, path, []byte("v1\n"))
	expectHint(t, w, "edit after the ignored events")
}

// TestWatchOverflowAsksForAFullReconcile: lost events (the kernel queue
// overflowed) are reported as an overflow hint.
func TestWatchOverflowAsksForAFullReconcile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.yaml")
	writeFile(t, path, []byte("v0\n"))
	w := startWatch(t, path)
	w.fs.Errors <- fsnotify.ErrEventOverflow
	select {
	case got := <-w.hints:
		if got != TriggerOverflow {
			t.Errorf("hint %q, want %q", got, TriggerOverflow)
		}
	case <-time.After(hintWait):
		t.Fatal("no hint for an overflow")
	}
}

// TestWatchFollowsASymlinkElsewhere: state.yaml may link to a file in
// another directory (a checkout); edits there, and a retargeted link, give
// hints.
func TestWatchFollowsASymlinkElsewhere(t *testing.T) {
	etc, repo, repo2 := t.TempDir(), t.TempDir(), t.TempDir()
	target := filepath.Join(repo, "state.yaml")
	if err := os.WriteFile(target, []byte("v0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(etc, "state.yaml")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, path)
	if err := os.WriteFile(target, []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectHint(t, w, "an edit of the link's target")
	drain(w)

	// Point the link at a file in a third directory, then edit that one.
	target2 := filepath.Join(repo2, "state.yaml")
	if err := os.WriteFile(target2, []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.Symlink(target2, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expectHint(t, w, "a retargeted link")
	drain(w)
	if err := os.WriteFile(target2, []byte("v3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectHint(t, w, "an edit of the new target")
	drain(w)
	if err := os.WriteFile(filepath.Join(repo2, "other.yaml"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-w.hints:
		t.Errorf("hint %q for another file in the target's directory", got)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestWatchFollowsASymlinkIntoASubdirectory: a link to a file in a
// subdirectory of the state's own directory (a checkout kept there) is
// followed too.
func TestWatchFollowsASymlinkIntoASubdirectory(t *testing.T) {
	etc := t.TempDir()
	repo := filepath.Join(etc, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(repo, "state.yaml")
	if err := os.WriteFile(target, []byte("v0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(etc, "state.yaml")
	if err := os.Symlink("repo/state.yaml", path); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, path)
	if err := os.WriteFile(target, []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectHint(t, w, "an edit of the link's target")
}

// TestWatchSurvivesAReplacedDirectory: a new directory renamed over the
// state's directory gives a hint, and edits in it keep giving hints.
func TestWatchSurvivesAReplacedDirectory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "hakgen")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state.yaml")
	if err := os.WriteFile(path, []byte("v0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, path)

	next := filepath.Join(root, "hakgen.new")
	if err := os.Mkdir(next, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(next, "state.yaml"), []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, filepath.Join(root, "hakgen.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, dir); err != nil {
		t.Fatal(err)
	}
	expectHint(t, w, "a replaced directory")
	drain(w)
	if err := os.WriteFile(path, []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectHint(t, w, "an edit in the new directory")
	drain(w)
	if err := os.WriteFile(filepath.Join(root, "hakgen.old", "state.yaml"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-w.hints:
		t.Errorf("hint %q for an edit in the old, moved directory", got)
	case <-time.After(300 * time.Millisecond):
	}
}

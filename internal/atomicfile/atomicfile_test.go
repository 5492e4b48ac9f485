package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteKeepsModeAndOwnerAndSkipsEqualBytes(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(target, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(target, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	changed, err := Write(target, []byte("new\n"), 0o600)
	if err != nil || !changed {
		t.Fatalf("Write: changed=%v err=%v", changed, err)
	}
	info, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o640 {
		t.Errorf("mode %04o, want the old file's 0640", info.Mode().Perm())
	}
	if st := info.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && st.Uid != 65534 {
		t.Errorf("owner %d, want the old file's 65534", st.Uid)
	}
	if changed, err := Write(target, []byte("new\n"), 0o600); err != nil || changed {
		t.Errorf("equal bytes: changed=%v err=%v, want no write", changed, err)
	}
	assertOnly(t, dir, "haproxy.cfg")
}

func TestWriteNewFileGetsPerm(t *testing.T) {
	target := filepath.Join(t.TempDir(), "new.cfg")
	if _, err := Write(target, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(target); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", info.Mode().Perm())
	}
}

func TestStageIsHiddenAndDiscardLeavesTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := Stage(target, []byte("new\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(st.Path())
	if filepath.Dir(st.Path()) != dir || !strings.HasPrefix(base, ".") || strings.HasSuffix(base, ".cfg") {
		t.Errorf("staged file %s: want a hidden, non-.cfg file beside the target", st.Path())
	}
	if data, _ := os.ReadFile(st.Path()); string(data) != "new\n" {
		t.Errorf("staged content %q", data)
	}
	st.Discard()
	if data, _ := os.ReadFile(target); string(data) != "old\n" {
		t.Errorf("target changed to %q by a discarded stage", data)
	}
	assertOnly(t, dir, "haproxy.cfg")
}

func TestCommitFailureLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "sub")
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := Stage(target, []byte("x"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// Between Stage and Commit the file becomes a directory, which a
	// file cannot replace.
	if err := os.Remove(target); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(); err == nil {
		t.Fatal("replacing a non-empty directory succeeded")
	}
	assertOnly(t, dir, "sub")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

func TestWriteThroughSymlinkKeepsTheLink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.cfg")
	link := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(real, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.cfg", link); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(link, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced by a file (%v)", err)
	}
	if data, _ := os.ReadFile(real); string(data) != "new\n" {
		t.Errorf("the link's destination holds %q, want the new content", data)
	}
	assertOnly(t, dir, "haproxy.cfg", "real.cfg")
}

func TestLeftoversOfASymlinkedTarget(t *testing.T) {
	dir, realDir := t.TempDir(), t.TempDir()
	real := filepath.Join(realDir, "haproxy.cfg")
	if err := os.WriteFile(real, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "haproxy.cfg")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	st, err := Stage(link, []byte("new\n"), 0o644) // a process killed before Commit
	if err != nil {
		t.Fatal(err)
	}
	got, err := Leftovers(link)
	if err != nil || len(got) != 1 || got[0] != st.Path() {
		t.Errorf("Leftovers = %v, %v; want the staged %s", got, err, st.Path())
	}
}

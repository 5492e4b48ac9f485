package atomicfile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/internal/tooltest"
)

// Linux's device numbers of the memory devices null and zero (major 1).
const (
	devNull = 1<<8 | 3
	devZero = 1<<8 | 5
)

// mknod makes a character device node at path (as root): a copy of
// /dev/null or /dev/zero in the test's own directory.
func mknod(t *testing.T, path string, dev int) {
	t.Helper()
	tooltest.NeedRoot(t)
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, dev); err != nil {
		t.Fatal(err)
	}
}

// writeBounded runs Write and fails the test when it does not return
// within 30 s (a read of a FIFO without a writer would block for ever).
func writeBounded(t *testing.T, target string, data []byte) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Write(target, data, 0o644)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("Write(%s) did not return within 30 s", target)
		return nil
	}
}

// TestWriteRefusesSpecialFiles: a device node or FIFO at the target (or
// at a symlink's destination) is neither replaced nor read; the error
// names what is there.
func TestWriteRefusesSpecialFiles(t *testing.T) {
	for _, c := range []struct {
		name string
		make func(t *testing.T, path string)
		kind string
	}{
		{"null device", func(t *testing.T, p string) { mknod(t, p, devNull) }, "a character device"},
		{"zero device", func(t *testing.T, p string) { mknod(t, p, devZero) }, "a character device"},
		{"fifo", func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { // unblocks a reader stuck in open(2), should there be one
				if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
			})
		}, "a named pipe (FIFO)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			node := filepath.Join(dir, "node")
			c.make(t, node)
			before, err := os.Lstat(node)
			if err != nil {
				t.Fatal(err)
			}
			err = writeBounded(t, node, []byte("rendered\n"))
			want := "refusing to replace " + node + ": it is not a regular file but " + c.kind
			if err == nil || err.Error() != want {
				t.Errorf("Write on the node: %v\nwant %s", err, want)
			}
			link := filepath.Join(dir, "haproxy.cfg")
			if err := os.Symlink("node", link); err != nil {
				t.Fatal(err)
			}
			err = writeBounded(t, link, []byte("rendered\n"))
			want = "refusing to replace " + link + ": it leads to " + node + ", which is not a regular file but " + c.kind
			if err == nil || err.Error() != want {
				t.Errorf("Write through a symlink to the node: %v\nwant %s", err, want)
			}
			if _, err := Stage(link, []byte("x"), 0o644); err == nil || !strings.HasPrefix(err.Error(), "refusing to replace ") {
				t.Errorf("Stage through the symlink: %v", err)
			}
			after, err := os.Lstat(node)
			if err != nil || after.Mode() != before.Mode() {
				t.Errorf("the node is now %v (%v), want it untouched (%v)", after.Mode(), err, before.Mode())
			}
			assertOnly(t, dir, "haproxy.cfg", "node")
		})
	}
}

// TestWriteReadsOldContentBounded: comparing with a large old file (here a
// sparse 256 MiB one) reads no more of it than the new content's length
// and a byte.
func TestWriteReadsOldContentBounded(t *testing.T) {
	target := filepath.Join(t.TempDir(), "haproxy.cfg")
	f, err := os.Create(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(256 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before := readChars(t)
	changed, err := Write(target, []byte("new\n"), 0o644)
	read := readChars(t) - before
	if err != nil || !changed {
		t.Fatalf("Write: changed=%v err=%v", changed, err)
	}
	if read > 1<<20 {
		t.Errorf("Write read %d bytes to compare 4 new bytes with the old file", read)
	}
	if data, _ := os.ReadFile(target); string(data) != "new\n" {
		t.Errorf("target holds %d bytes, want the new content", len(data))
	}
}

// readChars is this process's count of bytes read by read(2) and the
// like (rchar in /proc/self/io).
func readChars(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

// TestWriteRefusesDanglingSymlink: a symlink whose destination does not
// exist is neither replaced by a file nor followed to create one.
func TestWriteRefusesDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "haproxy.cfg")
	dest := filepath.Join(dir, "missing", "haproxy.cfg")
	if err := os.Symlink(dest, link); err != nil {
		t.Fatal(err)
	}
	_, err := Write(link, []byte("rendered\n"), 0o644)
	want := "refusing to replace " + link + ": it is a symbolic link to " + dest + ", which does not exist (create " + dest + ", or remove the link)"
	if err == nil || err.Error() != want {
		t.Fatalf("Write: %v\nwant %s", err, want)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced (%v)", err)
	}
	assertOnly(t, dir, "haproxy.cfg")
}

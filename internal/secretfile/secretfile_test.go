package secretfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/internal/secretfile"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// secretIn writes a 0600 secret file into a new directory of the given
// mode (umask aside) and returns the directory and the file.
func secretIn(t *testing.T, dirMode os.FileMode) (dir, file string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "secrets")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

// TestReadRefusesWritableDirectory: a secret file in a directory that
// group or others can write could be replaced by them; it is refused,
// naming the directory and the fix. The sticky bit (as on /tmp) keeps
// others from replacing what they do not own, so it is accepted.
func TestReadRefusesWritableDirectory(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o770, 0o702} {
		dir, file := secretIn(t, mode)
		_, err := secretfile.Read(file, "token file", true)
		want := "token file " + file + " is in the directory " + dir + ", mode " + octal(mode) + ": group or others can write it and replace the file (run: chmod go-w " + dir + ")"
		if err == nil || err.Error() != want {
			t.Errorf("mode %s: err = %v\nwant  %s", octal(mode), err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Error("the error reveals the secret")
		}
	}
	_, file := secretIn(t, 0o755)
	if got, err := secretfile.Read(file, "token file", true); err != nil || got != "s3cret\n" {
		t.Errorf("a safe directory: %q, %v", got, err)
	}
	_, file = secretIn(t, 0o777|os.ModeSticky)
	if _, err := secretfile.Read(file, "token file", true); err != nil {
		t.Errorf("a sticky directory: %v", err)
	}
	// Without the owner checks (systemd's private credentials directory)
	// nothing about the directory is asked.
	_, file = secretIn(t, 0o777)
	if _, err := secretfile.Read(file, "token file", false); err != nil {
		t.Errorf("without owner checks: %v", err)
	}
}

func octal(m os.FileMode) string {
	const digits = "01234567"
	p := uint32(m.Perm())
	return "0" + string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

// TestReadRefusesDirectoryOfAnotherUser: the owner of a directory holding
// the secret could replace it.
func TestReadRefusesDirectoryOfAnotherUser(t *testing.T) {
	tooltest.NeedRoot(t) // only root can give a directory to another user
	dir, file := secretIn(t, 0o755)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := secretfile.Read(file, "token file", true)
	want := "token file " + file + " is in the directory " + dir + ", owned by uid 65534, who could replace the file (run: chown root:root " + dir + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}

// TestReadNamesTheResolvedFile: through a symlink, the fix names the file
// that must change, not the link.
func TestReadNamesTheResolvedFile(t *testing.T) {
	_, real := secretIn(t, 0o755)
	if err := os.Chmod(real, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "hcloud-token")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	_, err := secretfile.Read(link, "token file", true)
	want := "token file " + link + " (" + real + ") has mode 0644: group or others can access it (run: chmod 600 " + real + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}

// TestReadChecksTheLinksDirectory: a safe file behind a symlink in a
// directory others can write is refused: they could point the link
// elsewhere.
func TestReadChecksTheLinksDirectory(t *testing.T) {
	_, real := secretIn(t, 0o755)
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(open, "hcloud-token")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	_, err := secretfile.Read(link, "token file", true)
	want := "token file " + link + " (" + real + ") is in the directory " + open + ", mode 0777: group or others can write it and replace the file (run: chmod go-w " + open + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}

// TestReadChecksEveryLinkOfAChain: safe/token -> open/hop -> the file;
// the first link and the file are in safe directories, the link between
// them is not: whoever can write open/ can point hop elsewhere.
func TestReadChecksEveryLinkOfAChain(t *testing.T) {
	_, real := secretIn(t, 0o755)
	base := t.TempDir()
	safe, open := filepath.Join(base, "safe"), filepath.Join(base, "open")
	for _, d := range []string{safe, open} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(open, "hop")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(safe, "token")
	if err := os.Symlink("../open/hop", link); err != nil {
		t.Fatal(err)
	}
	_, err := secretfile.Read(link, "token file", true)
	want := "token file " + link + " (" + real + ") is in the directory " + open + ", mode 0777: group or others can write it and replace the file (run: chmod go-w " + open + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
	// The same chain through safe directories only is read.
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := secretfile.Read(link, "token file", true); err != nil || got != "s3cret\n" {
		t.Fatalf("read through a safe chain: %q, %v", got, err)
	}
}

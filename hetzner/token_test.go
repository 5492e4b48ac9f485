package hetzner_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// writeToken writes a token file with the given mode (umask aside).
func writeToken(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hcloud-token")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadTokenFromFile(t *testing.T) {
	path := writeToken(t, testToken+"\n", 0o600)
	tok, from, err := hetzner.TokenSources{File: path, Env: "from-env"}.Load()
	if err != nil || tok.Reveal() != testToken || from != path {
		t.Fatalf("Load = %q, %q, %v; want the file's token", tok.Reveal(), from, err)
	}
}

func TestLoadTokenRefusesOpenModes(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			path := writeToken(t, testToken, mode)
			_, _, err := hetzner.TokenSources{File: path, Env: "from-env"}.Load()
			if err == nil {
				t.Fatal("Load accepted a token file others can access")
			}
			for _, want := range []string{path, "chmod 600 " + path, fmt.Sprintf("%04o", mode)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			noSecret(t, err, nil)
		})
	}
}

func TestLoadTokenRefusesForeignOwner(t *testing.T) {
	tooltest.NeedRoot(t) // only root can give a file to another user
	path := writeToken(t, testToken, 0o600)
	if err := os.Chown(path, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	_, _, err := hetzner.TokenSources{File: path}.Load()
	if err == nil || !strings.Contains(err.Error(), "owned by uid 4242") || !strings.Contains(err.Error(), "chown root:root "+path) {
		t.Fatalf("Load = %v, want a refusal naming the owner and the fix", err)
	}
}

func TestLoadTokenSymlinks(t *testing.T) {
	good := writeToken(t, testToken, 0o600)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if tok, _, err := (hetzner.TokenSources{File: link}).Load(); err != nil || tok.Reveal() != testToken {
		t.Errorf("Load through a symlink to a safe file = %v", err)
	}

	open := writeToken(t, testToken, 0o644)
	badLink := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(open, badLink); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (hetzner.TokenSources{File: badLink}).Load(); err == nil {
		t.Error("Load accepted a symlink to a world-readable file")
	}
}

func TestLoadTokenRefusesOddFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := writeToken(t, "\n", 0o600)
	twoWords := writeToken(t, testToken+" "+testToken, 0o600)
	for name, path := range map[string]string{
		"directory": dir, "fifo": fifo, "empty": empty, "two words": twoWords,
		"missing": filepath.Join(dir, "missing"),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := hetzner.TokenSources{File: path, Env: "from-env"}.Load()
			if err == nil {
				t.Fatal("Load accepted it (or fell back to HCLOUD_TOKEN)")
			}
			noSecret(t, err, nil)
		})
	}
}

func TestLoadTokenFromCredential(t *testing.T) {
	dir := t.TempDir()
	// systemd makes credentials 0400 or 0440, owned by the service.
	if err := os.WriteFile(filepath.Join(dir, hetzner.CredentialName), []byte(testToken), 0o440); err != nil {
		t.Fatal(err)
	}
	tok, from, err := hetzner.TokenSources{CredentialsDir: dir, Env: "from-env"}.Load()
	if err != nil || tok.Reveal() != testToken || from != filepath.Join(dir, hetzner.CredentialName) {
		t.Fatalf("Load = %q, %q, %v; want the credential", tok.Reveal(), from, err)
	}
}

func TestLoadTokenFromEnvLast(t *testing.T) {
	// A credentials directory without the token falls through to the env.
	tok, from, err := hetzner.TokenSources{CredentialsDir: t.TempDir(), Env: testToken}.Load()
	if err != nil || tok.Reveal() != testToken || from != "HCLOUD_TOKEN" {
		t.Fatalf("Load = %q, %q, %v; want HCLOUD_TOKEN", tok.Reveal(), from, err)
	}
	if _, _, err := (hetzner.TokenSources{}).Load(); !errors.Is(err, hetzner.ErrNoToken) {
		t.Errorf("Load with no source = %v, want ErrNoToken", err)
	}
}

func TestLoadTokenReadsTheEnvironment(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	t.Setenv("HCLOUD_TOKEN", testToken)
	if tok, _, err := hetzner.LoadToken(""); err != nil || tok.Reveal() != testToken {
		t.Fatalf("LoadToken = %v", err)
	}
}

func TestTokenIsRedactedWhenPrinted(t *testing.T) {
	tok := hetzner.Token(testToken)
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %s %q %+v %#v", tok, tok, tok, tok, tok)} {
		if containsToken(s) {
			t.Errorf("printed token: %s", s)
		}
	}
}

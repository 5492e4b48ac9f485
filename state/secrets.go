package state

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxSecretSize bounds a secret file; passwords and tokens are short.
const maxSecretSize = 4096

// LoadSecrets reads the secrets the state refers to (the stats password)
// from their files, resolving relative paths against the state file's
// directory. A secret file must be owned by root (or the user running
// hakgen) and give no access to group or others.
func (s *State) LoadSecrets() error {
	if s.Stats.PasswordFile == "" {
		return nil
	}
	path := s.Stats.PasswordFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(s.dir, path)
	}
	pw, err := ReadSecretFile(path)
	if err != nil {
		return s.problem("stats.passwordFile", "%v", err)
	}
	s.Stats.Password = pw
	return nil
}

// ReadSecretFile reads a secret from a file, refusing files that others can
// read or change. Trailing newlines are removed. Errors name the file and
// the fix, never the content.
func ReadSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading secret: %w", err)
	}
	defer f.Close()
	info, err := f.Stat() // of the opened file: a swapped symlink cannot slip past
	if err != nil {
		return "", fmt.Errorf("reading secret: %w", err)
	}
	if err := checkSecretFile(path, info); err != nil {
		return "", err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretSize+1))
	if err != nil {
		return "", fmt.Errorf("reading secret %s: %w", path, err)
	}
	if len(data) > maxSecretSize {
		return "", fmt.Errorf("secret file %s is larger than %d bytes", path, maxSecretSize)
	}
	secret := strings.TrimRight(string(data), "\r\n")
	if secret == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return secret, nil
}

func checkSecretFile(path string, info os.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("secret file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("secret file %s has mode %04o: group or others can access it (run: chmod 600 %s)", path, perm, path)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("secret file %s is owned by uid %d (expected root: chown root: %s)", path, st.Uid, path)
	}
	return nil
}

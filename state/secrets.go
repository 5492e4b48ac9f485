package state

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hakgen/hakgen/internal/secretfile"
)

// LoadSecrets reads the secrets the state refers to (the stats password)
// from their files, resolving relative paths against the state file's
// directory. A secret file must be owned by root (or the user running
// hakgen) and give no access to group or others.
//
// DefaultReadTimeout bounds the read (see LoadContext).
func (s *State) LoadSecrets() error {
	ctx, cancel := readContext(context.Background())
	defer cancel()
	return s.loadSecrets(ctx)
}

// loadSecrets is LoadSecrets bounded by ctx.
func (s *State) loadSecrets(ctx context.Context) error {
	if s.Stats.PasswordFile == "" {
		return nil
	}
	path := s.Stats.PasswordFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(s.dir, path)
	}
	pw, err := readBounded(ctx, path, func() (string, error) { return ReadSecretFile(path) })
	if err != nil {
		p := s.problem("stats.passwordFile", "%v", err)
		p.cause = err // a file that cannot be read is the machine's problem, not the state's
		return p
	}
	s.Stats.Password = pw
	return nil
}

// ReadSecretFile reads a secret from a file, refusing files that others can
// read or change (see secretfile.Read). Trailing newlines are removed.
func ReadSecretFile(path string) (string, error) {
	data, err := secretfile.Read(path, "secret file", true)
	if err != nil {
		return "", err
	}
	secret := strings.TrimRight(data, "\r\n")
	if secret == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return secret, nil
}

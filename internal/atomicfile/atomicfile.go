// Package atomicfile replaces files so that readers see either the old or
// the new content, never a mix, even across a crash or power loss.
//
// The new content is staged in a hidden temporary file next to the target
// (same directory, so the rename is atomic; a name that does not end in the
// target's extension, so nothing that globs *.cfg picks it up), synced, given
// the target's mode and owner, and renamed over the target; then the
// directory is synced so the rename itself is durable.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Staged is new content written next to its target, not yet in place.
// Call exactly one of Commit or Discard.
type Staged struct {
	target string
	path   string
}

// Stage writes data to a hidden temporary file beside target and syncs it.
// The file gets target's mode and owner when target exists, else perm.
//
// A target that is a symlink stays one: the file it points to is replaced.
func Stage(target string, data []byte, perm fs.FileMode) (*Staged, error) {
	target = resolve(target)
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".hakgen-*.tmp")
	if err != nil {
		return nil, stageErr(target, err)
	}
	st := &Staged{target: target, path: f.Name()}
	if err := fill(f, data, target, perm); err != nil {
		f.Close()
		st.Discard()
		return nil, stageErr(target, err)
	}
	if err := f.Close(); err != nil {
		st.Discard()
		return nil, stageErr(target, err)
	}
	return st, nil
}

// stageErr reports a failure to stage target without the temporary file's
// random name, so the same failure always reads the same.
func stageErr(target string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Path, ".hakgen-") {
		err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return fmt.Errorf("staging %s: %w", target, err)
}

func fill(f *os.File, data []byte, target string, perm fs.FileMode) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	info, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f.Chmod(perm)
	case err != nil:
		return err
	}
	if err := f.Chmod(info.Mode().Perm()); err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		return f.Chown(int(st.Uid), int(st.Gid))
	}
	return nil
}

// Path is the staged file, e.g. for `haproxy -c` before committing.
func (s *Staged) Path() string { return s.path }

// Commit renames the staged file over the target and syncs the directory.
func (s *Staged) Commit() error {
	if err := os.Rename(s.path, s.target); err != nil {
		s.Discard()
		return fmt.Errorf("replacing %s: %w", s.target, err)
	}
	if err := syncDir(filepath.Dir(s.target)); err != nil {
		return fmt.Errorf("replacing %s: %w", s.target, err)
	}
	return nil
}

// Discard removes the staged file; the target is untouched.
func (s *Staged) Discard() { os.Remove(s.path) }

// Write replaces target with data atomically. It does nothing when the
// target already holds exactly data, and reports whether it changed it.
func Write(target string, data []byte, perm fs.FileMode) (changed bool, err error) {
	if old, err := os.ReadFile(target); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	st, err := Stage(target, data, perm)
	if err != nil {
		return false, err
	}
	return true, st.Commit()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// resolve returns the file a symlinked target points to (target itself
// when it is no symlink or does not exist yet): that file is the one
// replaced, and its directory the one staged files go to.
func resolve(target string) string {
	if resolved, err := filepath.EvalSymlinks(target); err == nil {
		return resolved
	}
	return target
}

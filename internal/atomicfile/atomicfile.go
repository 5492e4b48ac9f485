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
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/hakgen/hakgen/internal/filekind"
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
// Only a regular file is replaced: a target (or a symlink's destination)
// that exists as anything else, such as a device node, a FIFO or a
// directory, is refused, and so is a symlink whose destination does not
// exist (replacing the link would break whatever layout it belongs to,
// and creating its destination would write where nobody looked).
func Stage(target string, data []byte, perm fs.FileMode) (*Staged, error) {
	target, err := resolve(target)
	if err != nil {
		return nil, err
	}
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

// Restrict makes the staged file private to its owner and group, for
// content that holds a secret (a password hash): the mode loses every bit
// for others and group write (0644 becomes 0640), and when group names a
// group of this machine, the file is given to it (a service reading the
// file through its group, as haproxy does). Call it before Commit.
func (s *Staged) Restrict(group string) error {
	info, err := os.Stat(s.path)
	if err != nil {
		return err
	}
	if err := os.Chmod(s.path, info.Mode().Perm()&^0o027); err != nil {
		return err
	}
	g, err := user.LookupGroup(group)
	if err != nil || os.Geteuid() != 0 {
		return nil // no such group here (or not root): the owner's group stays
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return nil
	}
	return os.Chown(s.path, -1, gid)
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

// Write replaces target with data atomically, on the terms of Stage. It
// does nothing when the target already holds exactly data, and reports
// whether it changed it. Of the old content, at most len(data)+1 bytes are
// read.
func Write(target string, data []byte, perm fs.FileMode) (changed bool, err error) {
	resolved, err := resolve(target)
	if err != nil {
		return false, err
	}
	if holds(resolved, data) {
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
// replaced, and its directory the one staged files go to. It refuses a
// target that exists and is not a regular file, and a symlink whose
// destination does not exist.
func resolve(target string) (string, error) {
	resolved, err := filepath.EvalSymlinks(target)
	if errors.Is(err, fs.ErrNotExist) {
		if dest, lerr := os.Readlink(target); lerr == nil {
			return target, fmt.Errorf("refusing to replace %s: it is a symbolic link to %s, which does not exist (create %s, or remove the link)", target, dest, dest)
		}
		return target, nil // nothing there yet: created by the rename
	}
	if err != nil {
		return target, fmt.Errorf("resolving %s: %w", target, err)
	}
	info, err := os.Stat(resolved)
	if err != nil {
		return resolved, fmt.Errorf("resolving %s: %w", target, err)
	}
	if !info.Mode().IsRegular() {
		what := "it is not a regular file but " + filekind.Of(info.Mode())
		if resolved != filepath.Clean(target) {
			what = "it leads to " + resolved + ", which is not a regular file but " + filekind.Of(info.Mode())
		}
		return resolved, fmt.Errorf("refusing to replace %s: %s", target, what)
	}
	return resolved, nil
}

// holds reports whether the regular file at path holds exactly data. It
// reads at most len(data)+1 bytes, and never blocks on a FIFO that
// replaced the file since it was resolved.
func holds(path string, data []byte) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return false
	}
	old, err := io.ReadAll(io.LimitReader(f, int64(len(data))+1))
	return err == nil && bytes.Equal(old, data)
}

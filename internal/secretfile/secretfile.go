// Package secretfile reads secrets (API tokens, passwords) from files that
// nobody but their owner can read or replace.
package secretfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/hakgen/hakgen/internal/filekind"
)

// MaxSize bounds what is read: tokens and passwords are short.
const MaxSize = 4096

// Read returns the content of the secret file at path; what names the
// secret in messages ("token file", "password file"). With checkOwner, the
// file must be owned by root (or the effective user) and give group and
// others no access at all, and so must every directory it is in (see
// CheckDirs): whoever can write one of them can swap the file. The checks
// apply to the opened file (fstat), so a symlink is followed and its
// target is what must be safe, and the file cannot be swapped between
// check and read; O_NONBLOCK keeps a FIFO at the path from blocking.
// Errors name the file and the fix (on the file the path resolves to),
// never the content.
func Read(path, what string, checkOwner bool) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", what, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", what, err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s %s is not a regular file but %s", what, path, filekind.Of(info.Mode()))
	}
	if checkOwner {
		real := resolved(f, path)
		if err := CheckPrivate(path, real, what, info); err != nil {
			return "", err
		}
		if err := CheckDirs(path, real, what); err != nil {
			return "", err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return "", fmt.Errorf("reading %s %s: %w", what, path, err)
	}
	if len(data) > MaxSize {
		return "", fmt.Errorf("%s %s is larger than %d bytes", what, path, MaxSize)
	}
	return string(data), nil
}

// resolved returns the absolute path, without symlinks, of the file f
// opened from path: the kernel's own (/proc/self/fd), else path resolved.
func resolved(f *os.File, path string) string {
	if real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); err == nil && filepath.IsAbs(real) {
		return real
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		if abs, err := filepath.Abs(real); err == nil {
			return abs
		}
	}
	return path
}

// named is how messages name a secret file: the path as written, and the
// file it resolves to when that differs.
func named(path, real string) string {
	if abs, err := filepath.Abs(path); err == nil && abs == real {
		return path
	}
	return path + " (" + real + ")"
}

// CheckPrivate refuses a file that someone besides root (or the effective
// user) could read or replace. path is the file as written, real the file
// it resolves to, which the fix in the message names.
func CheckPrivate(path, real, what string, info os.FileInfo) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s %s: cannot read its owner", what, named(path, real))
	}
	if euid := uint32(os.Geteuid()); st.Uid != 0 && st.Uid != euid {
		return fmt.Errorf("%s %s is owned by uid %d, not by root (run: chown root:root %s)", what, named(path, real), st.Uid, real)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s has mode %04o: group or others can access it (run: chmod 600 %s)", what, named(path, real), perm, real)
	}
	return nil
}

// CheckDirs refuses a secret file (real, resolved from path as written)
// that someone besides root (or the effective user) could replace: every
// directory from its own up to / must be owned by root or the effective
// user, and writable by group or others only when it has the sticky bit
// (as /tmp has), which keeps others from renaming or removing what they
// do not own. When path is a symlink, the directories holding each link
// of the chain are held to the same rule: whoever can write one of them
// can point its link elsewhere.
func CheckDirs(path, real, what string) error {
	if err := checkDirChain(path, real, what, filepath.Dir(real)); err != nil {
		return err
	}
	checked := map[string]bool{filepath.Dir(real): true}
	p := path
	for range maxLinks {
		dir, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err == nil {
			dir, err = filepath.Abs(dir)
		}
		if err != nil {
			return fmt.Errorf("%s %s: resolving the directory of %s: %w", what, named(path, real), p, err)
		}
		if !checked[dir] {
			if err := checkDirChain(path, real, what, dir); err != nil {
				return err
			}
			checked[dir] = true
		}
		link := filepath.Join(dir, filepath.Base(p))
		info, err := os.Lstat(link)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, named(path, real), err)
		}
		if info.Mode()&os.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(link)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, named(path, real), err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		p = target
	}
	return fmt.Errorf("%s %s: more than %d symlinks", what, named(path, real), maxLinks)
}

// maxLinks bounds the symlinks followed from a secret's path, as the
// kernel's own limit does.
const maxLinks = 40

// checkDirChain checks dir and every directory above it (see CheckDirs).
func checkDirChain(path, real, what, dir string) error {
	euid := uint32(os.Geteuid())
	for ; ; dir = filepath.Dir(dir) {
		info, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("%s %s: checking the directory %s: %w", what, named(path, real), dir, err)
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s %s: cannot read the owner of the directory %s", what, named(path, real), dir)
		}
		if st.Uid != 0 && st.Uid != euid {
			return fmt.Errorf("%s %s is in the directory %s, owned by uid %d, who could replace the file (run: chown root:root %s)", what, named(path, real), dir, st.Uid, dir)
		}
		if info.Mode().Perm()&0o022 != 0 && info.Mode()&os.ModeSticky == 0 {
			return fmt.Errorf("%s %s is in the directory %s, mode %04o: group or others can write it and replace the file (run: chmod go-w %s)", what, named(path, real), dir, info.Mode().Perm(), dir)
		}
		if parent := filepath.Dir(dir); parent == dir {
			return nil
		}
	}
}

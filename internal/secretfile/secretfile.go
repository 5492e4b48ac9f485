// Package secretfile reads secrets (API tokens, passwords) from files that
// nobody but their owner can read or replace.
package secretfile

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxSize bounds what is read: tokens and passwords are short.
const MaxSize = 4096

// Read returns the content of the secret file at path; what names the
// secret in messages ("token file", "password file"). With checkOwner, the
// file must be owned by root (or the effective user) and give group and
// others no access at all. The checks apply to the opened file (fstat), so
// a symlink is followed and its target is what must be safe, and the file
// cannot be swapped between check and read; O_NONBLOCK keeps a FIFO at the
// path from blocking. Errors name the file and the fix, never the content.
func Read(path, what string, checkOwner bool) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", what, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", what, err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s %s is not a regular file (%s)", what, path, info.Mode().Type())
	}
	if checkOwner {
		if err := CheckPrivate(path, what, info); err != nil {
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

// CheckPrivate refuses a file that someone besides root (or the effective
// user) could read or replace.
func CheckPrivate(path, what string, info os.FileInfo) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s %s: cannot read its owner", what, path)
	}
	if euid := uint32(os.Geteuid()); st.Uid != 0 && st.Uid != euid {
		return fmt.Errorf("%s %s is owned by uid %d, not by root (run: chown root:root %s)", what, path, st.Uid, path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s has mode %04o: group or others can access it (run: chmod 600 %s)", what, path, perm, path)
	}
	return nil
}

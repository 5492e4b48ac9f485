package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrLocked means another agent manages one of the same files.
var ErrLocked = errors.New("another hakgen-agent run manages these files")

// dirLocks are the flock(2)s an agent holds on the directories of the files
// it writes, so that a second agent on the same files is refused instead of
// fighting the first. The kernel drops them when the process dies.
type dirLocks []*os.File

// lockDirs takes an exclusive lock on the directory of every path, without
// waiting; it fails with ErrLocked when one is held already.
func lockDirs(paths ...string) (dirLocks, error) {
	var locks dirLocks
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		dir := filepath.Dir(p)
		if resolved, err := filepath.EvalSymlinks(dir); err == nil {
			dir = resolved
		}
		if seen[dir] {
			continue
		}
		seen[dir] = true
		f, err := os.Open(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue // nothing written there yet, and nothing to fight over
		}
		if err != nil {
			locks.release()
			return nil, fmt.Errorf("locking %s: %w", dir, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			locks.release()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w: it holds the lock on %s (for %s); stop it first", ErrLocked, dir, p)
			}
			return nil, fmt.Errorf("locking %s: %w", dir, err)
		}
		locks = append(locks, f)
	}
	return locks, nil
}

// release drops every lock.
func (l dirLocks) release() {
	for _, f := range l {
		f.Close()
	}
}

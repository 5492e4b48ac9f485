package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockPoll is how often a waiting lock is tried again.
const lockPoll = 10 * time.Millisecond

// fileLock is an exclusive flock(2) on a file. The kernel drops it when
// the process dies, so a killed run never leaves a stale lock. Two opens
// of the same file conflict even within one process.
type fileLock struct{ f *os.File }

// lockFile takes the lock on path, creating the file, waiting until ctx
// ends.
func lockFile(ctx context.Context, path string) (*fileLock, error) {
	for {
		l, err := tryLockFile(path)
		if err != nil || l != nil {
			return l, err
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// tryLockFile takes the lock on path if it is free; it returns nil, nil
// when another holder has it.
func tryLockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		return &fileLock{f: f}, nil
	}
	_ = f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR) {
		return nil, nil
	}
	return nil, fmt.Errorf("locking %s: %w", path, err)
}

// Unlock releases the lock.
func (l *fileLock) Unlock() error {
	return l.f.Close() // closing the last descriptor releases the flock
}

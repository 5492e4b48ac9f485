package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hakgen/hakgen/internal/atomicfile"
	"github.com/hakgen/hakgen/internal/regular"
)

// target is a Target with what the agent knows about its service.
type target struct {
	Target
	// loaded is the hash of the bytes the service is known to run: what
	// the last successful reload installed, or what was on disk when the
	// agent started. The file on disk differs from it when a reload is
	// still owed (the agent died between rename and reload, or a reload
	// and its rollback both failed). "" means no file.
	loaded string
	// loadedState is the hash of the state the loaded bytes were rendered
	// from; "" when not known (a file the agent did not install, say).
	// lastGoodState is the same for the last-known-good copy.
	loadedState, lastGoodState string
	// failedHash is the hash of rendered bytes whose reload failed and
	// was rolled back, with that failure; "" when none. Such bytes are
	// not installed again until a SIGHUP clears it (see Agent.step).
	failedHash string
	failedErr  error
}

// loadedUnknown is target.loaded when no reload confirmed what the service
// runs; it equals no file's hash.
const loadedUnknown = "unknown"

// newTarget sets up t. When the previous run of the agent recorded what
// the service loaded (prev, from /run, so from this boot), that record is
// trusted; otherwise the file on disk is taken as what the service runs.
func newTarget(t Target, prev *Status) (*target, error) {
	cur, err := readTarget(t.Path)
	if err != nil {
		return nil, err
	}
	rt := &target{Target: t, loaded: hashOf(cur)}
	if ts, ok := prev.target(t.Name, t.Path); ok {
		rt.loaded, rt.loadedState = ts.Loaded, ts.StateHash
	}
	return rt, nil
}

// pending reports whether cur (the file on disk) is not known to be what
// the service runs, so that a reload is owed even when it is what the
// state renders.
func (t *target) pending(cur []byte) bool { return hashOf(cur) != t.loaded }

// maxTarget bounds what is read of a generated file: haproxy.cfg for
// thousands of servers is a few MiB.
const maxTarget = 64 << 20

// readTarget reads the current file; a missing file reads as nil. Only a
// regular file is read (a FIFO or device there is refused, not waited on).
func readTarget(path string) ([]byte, error) {
	data, err := regular.Read(path, maxTarget)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, nil
}

// hashOf is the SHA-256 of a file's bytes, "" for a missing file (nil).
func hashOf(data []byte) string {
	if data == nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// keepLastGood makes LastGood a copy of cur when cur is what the service
// runs. A file that is not known to run (pending) never becomes the
// last-known-good copy: the copy from when it was is kept.
func (t *target) keepLastGood(cur []byte) error {
	if cur == nil || t.pending(cur) {
		return nil
	}
	t.lastGoodState = t.loadedState
	if old, err := os.ReadFile(t.LastGood); err == nil && bytes.Equal(old, cur) {
		return nil
	}
	if _, err := atomicfile.Write(t.LastGood, cur, 0o600); err != nil {
		return fmt.Errorf("keeping the last-known-good copy of %s: %w", t.Path, err)
	}
	return nil
}

// restoreLastGood puts the last-known-good copy back in place of the target
// (atomically) and returns its bytes.
func (t *target) restoreLastGood() ([]byte, error) {
	data, err := os.ReadFile(t.LastGood)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no last-known-good copy of %s to restore (%s missing)", t.Path, t.LastGood)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the last-known-good copy: %w", err)
	}
	if _, err := atomicfile.Write(t.Path, data, t.Perm); err != nil {
		return nil, fmt.Errorf("restoring the last-known-good copy: %w", err)
	}
	return data, nil
}

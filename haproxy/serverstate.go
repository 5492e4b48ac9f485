package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/hakgen/hakgen/internal/atomicfile"
)

// serverStateVersion is the first line of a server-state file: the
// format version `show servers state` writes and HAProxy reads back.
const serverStateVersion = "1\n"

// EnsureServerState creates the server-state file at path, holding no
// server, when there is none: haproxy.cfg names it (server-state-file),
// and HAProxy 2.6 warns, failing a zero-warning check, when it is missing
// or empty. An existing file is left as it is.
func EnsureServerState(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, err := atomicfile.Write(path, []byte(serverStateVersion), 0o600); err != nil {
		return fmt.Errorf("creating the server-state file: %w", err)
	}
	return nil
}

// SaveServerState writes the running HAProxy's servers (`show servers
// state` of the current worker, through the master) to path, atomically,
// for the next worker to start from (load-server-state-from-file). Call it
// right before a reload.
func SaveServerState(ctx context.Context, m *Master, path string) error {
	out, err := m.Worker(ctx, "show servers state")
	if err != nil {
		return fmt.Errorf("reading the servers' state: %w", err)
	}
	if !strings.HasPrefix(out, serverStateVersion) {
		return fmt.Errorf("reading the servers' state: unexpected answer %q", firstLine(out))
	}
	if _, err := atomicfile.Write(path, []byte(out), 0o600); err != nil {
		return fmt.Errorf("saving the servers' state: %w", err)
	}
	return nil
}

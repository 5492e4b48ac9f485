package haproxy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hakgen/hakgen/internal/atomicfile"
)

// serverStateVersion is the first line of a server-state file: the
// format version `show servers state` writes and HAProxy reads back
// (serverplan.SaveServerState saves one).
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

package failover

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hakgen/hakgen/internal/atomicfile"
)

// TrackFile is the file keepalived's track_file reads (keepalived.conf's
// hakgen_haproxy_process): "1" puts the node into FAULT at once, "0"
// leaves the decision to the check script. keepalived watches it through
// inotify, so a write is seen within milliseconds.
type TrackFile struct{ Path string }

// Set writes whether HAProxy runs: up false means FAULT. The write is
// atomic, so keepalived never reads a half-written value.
func (f TrackFile) Set(up bool) error {
	value := "1\n"
	if up {
		value = "0\n"
	}
	if _, err := atomicfile.Write(f.Path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("writing keepalived's track file: %w", err)
	}
	return nil
}

// Down reports whether the file says FAULT ("1"); a missing file says
// nothing, as keepalived's init_file 0 has it.
func (f TrackFile) Down() (bool, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading keepalived's track file: %w", err)
	}
	v := strings.TrimSpace(string(b))
	return v != "" && v != "0", nil
}

package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/hakgen/hakgen/internal/atomicfile"
	"github.com/hakgen/hakgen/internal/regular"
)

// DefaultPath is where the discovered set is kept across restarts and
// reboots (hakgen-agent.service's StateDirectory).
const DefaultPath = "/var/lib/hakgen/discovered.json"

// fileVersion is the version of the persisted file's format.
const fileVersion = 1

// maxFileSize bounds reading the persisted file: a set of thousands of
// servers is a few hundred KiB.
const maxFileSize = 16 << 20

// Saved is the content of the persisted file: the set last accepted, when
// it was polled, and what it was polled with.
type Saved struct {
	Version  int       `json:"version"`
	PolledAt time.Time `json:"polledAt"`
	// Network is discovery.hcloud.network as it was configured, NetworkID
	// its ID.
	Network   string            `json:"network"`
	NetworkID int64             `json:"networkID"`
	Selectors map[string]string `json:"selectors"`
	Set
}

// Save writes saved to path atomically (readers see the old or the new
// file, also across a crash), creating its directory.
func Save(path string, saved Saved) error {
	saved.Version = fileVersion
	sortServers(saved.ControlPlanes)
	sortServers(saved.Workers)
	data, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return fmt.Errorf("saving the discovered servers: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("saving the discovered servers: %w", err)
	}
	if _, err := atomicfile.Write(path, append(data, '\n'), 0o640); err != nil {
		return fmt.Errorf("saving the discovered servers: %w", err)
	}
	return nil
}

// Load reads the persisted file at path. A missing file is an error
// wrapping fs.ErrNotExist. Servers whose name or address could not come
// from discovery are refused: the file is read into a state that is
// rendered.
func Load(path string) (Saved, error) {
	data, err := regular.Read(path, maxFileSize)
	if err != nil {
		return Saved{}, fmt.Errorf("reading the discovered servers: %w", err)
	}
	var saved Saved
	if err := json.Unmarshal(data, &saved); err != nil {
		return Saved{}, fmt.Errorf("reading the discovered servers from %s: %w", path, err)
	}
	if saved.Version != fileVersion {
		return Saved{}, fmt.Errorf("reading the discovered servers from %s: version %d, expected %d", path, saved.Version, fileVersion)
	}
	for _, list := range lists {
		for _, s := range saved.of(list) {
			if !dnsLabel.MatchString(s.Name) || !isIP(s.Address) {
				return Saved{}, fmt.Errorf("reading the discovered servers from %s: %s: %q at %q is not a discovered server (a lowercase DNS label and an IP address)", path, list, clip(s.Name), clip(s.Address))
			}
		}
	}
	return saved, nil
}

// LoadIfExists is Load, with a missing file read as an empty set
// (found false).
func LoadIfExists(path string) (saved Saved, found bool, err error) {
	saved, err = Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Saved{}, false, nil
	}
	return saved, err == nil, err
}

func isIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

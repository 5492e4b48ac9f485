package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hakgen/hakgen/internal/atomicfile"
)

// DefaultStateDir is where runs record state and take their locks. /run
// is a tmpfs, so sequence numbers start again at boot.
const DefaultStateDir = "/run/hakgen"

// Files in the state directory.
const (
	StateFile      = "keepalived-state.json" // the latest Record
	stateLockFile  = "state.lock"            // held while a Record is written
	assignLockFile = "assign.lock"           // held while the Floating IP is moved
)

// Record is the latest keepalived state, as one notify run recorded it.
type Record struct {
	// Seq grows by one with every recorded event: a higher Seq is a later
	// event. 0 means nothing was recorded.
	Seq      uint64    `json:"seq"`
	State    State     `json:"state"`
	Event    string    `json:"event"` // the arguments, e.g. "INSTANCE VI_1 MASTER 150"
	Recorded time.Time `json:"recorded"`
	PID      int       `json:"pid"`
}

// Store keeps the Record and the locks in a state directory. Several
// processes may use one directory at once.
type Store struct{ dir string }

// NewStore returns the store in dir (DefaultStateDir when empty). The
// directory is created (0755) on the first Record.
func NewStore(dir string) *Store {
	if dir == "" {
		dir = DefaultStateDir
	}
	return &Store{dir: dir}
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

// Record stores ev as the latest state with the next sequence number and
// returns it. Concurrent calls are serialized by a lock held only while
// the small file is rewritten, so a BACKUP is recorded at once even while
// a MASTER run is busy with the API.
func (s *Store) Record(ctx context.Context, ev Event) (Record, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return Record{}, fmt.Errorf("creating state directory: %w", err)
	}
	lock, err := lockFile(ctx, s.path(stateLockFile))
	if err != nil {
		return Record{}, err
	}
	defer lock.Unlock()
	last, err := s.Latest()
	if err != nil {
		return Record{}, err
	}
	rec := Record{Seq: last.Seq + 1, State: ev.State, Event: ev.String(), Recorded: time.Now().UTC(), PID: os.Getpid()}
	b, err := json.Marshal(rec)
	if err != nil {
		return Record{}, fmt.Errorf("encoding state: %w", err)
	}
	if _, err := atomicfile.Write(s.path(StateFile), append(b, '\n'), 0o644); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// Latest returns the latest Record; the zero Record when none was made.
// A file that cannot be parsed is an error (it is only ever replaced
// whole, so that means someone else wrote it).
func (s *Store) Latest() (Record, error) {
	b, err := os.ReadFile(s.path(StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return Record{}, nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("reading state: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, fmt.Errorf("reading state %s: %w", s.path(StateFile), err)
	}
	return rec, nil
}

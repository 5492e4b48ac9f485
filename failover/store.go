package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hakgen/hakgen/internal/atomicfile"
)

// DefaultStateDir is where runs record state and take their locks. /run
// is a tmpfs, so sequence numbers start again at boot.
const DefaultStateDir = "/run/hakgen"

// Files in the state directory.
const (
	StateFile     = "keepalived-state.json" // the latest Record, and each instance's
	stateLockFile = "state.lock"            // held while a Record is written
)

// Record is a keepalived state, as one notify run recorded it.
type Record struct {
	// Seq grows by one with every recorded event, of whatever instance: a
	// higher Seq is a later event. 0 means nothing was recorded.
	Seq      uint64    `json:"seq"`
	State    State     `json:"state"`
	Event    string    `json:"event"` // the arguments, e.g. "INSTANCE VI_1 MASTER 150"
	Recorded time.Time `json:"recorded"`
	PID      int       `json:"pid"`
	// Instance is the VRRP instance (or sync group) the event is for;
	// empty for the short form (notify MASTER), which stands for every
	// instance of this node.
	Instance string `json:"instance,omitempty"`
}

// stateFile is StateFile's content: the latest record of any instance
// (what the file held before there could be several, and what Latest
// returns), and the latest of each instance.
type stateFile struct {
	Record
	Instances map[string]Record `json:"instances,omitempty"`
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

// Record stores ev as the latest state, of all and of its instance, with
// the next sequence number and returns it. Concurrent calls are
// serialized by a lock held only while the small file is rewritten, so a
// BACKUP is recorded at once even while a MASTER run is busy with the API.
func (s *Store) Record(ctx context.Context, ev Event) (Record, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return Record{}, fmt.Errorf("creating state directory: %w", err)
	}
	lock, err := lockFile(ctx, s.path(stateLockFile))
	if err != nil {
		return Record{}, err
	}
	defer lock.Unlock()
	f, err := s.read()
	if err != nil {
		return Record{}, err
	}
	rec := Record{Seq: f.Seq + 1, State: ev.State, Event: ev.String(), Recorded: time.Now().UTC(), PID: os.Getpid(), Instance: ev.Name}
	if f.Instances == nil {
		f.Instances = map[string]Record{}
	}
	f.Record = rec
	if rec.State == Deleted && rec.Instance != "" {
		// keepalived no longer runs the instance: nothing stands for it
		// (status, metrics and alerts would show it STOP for ever).
		delete(f.Instances, rec.Instance)
	} else {
		f.Instances[rec.Instance] = rec
	}
	b, err := json.Marshal(f)
	if err != nil {
		return Record{}, fmt.Errorf("encoding state: %w", err)
	}
	if _, err := atomicfile.Write(s.path(StateFile), append(b, '\n'), 0o644); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// Latest returns the latest Record of any instance; the zero Record when
// none was made. A file that cannot be parsed is an error (it is only ever
// replaced whole, so that means someone else wrote it).
func (s *Store) Latest() (Record, error) {
	f, err := s.read()
	return f.Record, err
}

// LatestFor returns the latest Record that applies to the VRRP instance
// named instance: its own or a short-form one (which stands for every
// instance), whichever is later. For "" it is Latest: a short-form run
// follows every instance. A file written before records were kept per
// instance counts as one instance's.
func (s *Store) LatestFor(instance string) (Record, error) {
	f, err := s.read()
	if err != nil || instance == "" || f.Instances == nil {
		return f.Record, err
	}
	rec := f.Instances[instance]
	if short := f.Instances[""]; short.Seq > rec.Seq {
		rec = short
	}
	return rec, nil
}

// Instances returns the latest Record of each instance, by instance name
// ("" for the short form); nil when nothing was recorded.
func (s *Store) Instances() (map[string]Record, error) {
	f, err := s.read()
	if err != nil || f.Seq == 0 {
		return nil, err
	}
	if f.Instances == nil {
		return map[string]Record{f.Instance: f.Record}, nil
	}
	return f.Instances, nil
}

func (s *Store) read() (stateFile, error) {
	var f stateFile
	b, err := os.ReadFile(s.path(StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("reading state: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return stateFile{}, fmt.Errorf("reading state %s: %w", s.path(StateFile), err)
	}
	if f.Instances == nil && f.Seq > 0 && f.Instance == "" {
		// A file written before records were kept per instance: its one
		// record is of the instance its event names ("INSTANCE NAME ...").
		if kind, rest, _ := strings.Cut(f.Event, " "); kind == "INSTANCE" || kind == "GROUP" {
			f.Instance, _, _ = strings.Cut(rest, " ")
		}
		f.Instances = map[string]Record{f.Instance: f.Record}
	}
	return f, nil
}

package failover

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// watchInterval is how often a MASTER run busy with the API looks for a
// newer recorded state.
const watchInterval = 50 * time.Millisecond

// ErrSuperseded means a later notify run recorded a newer state, so this
// MASTER run gave up.
var ErrSuperseded = errors.New("superseded by a newer keepalived state")

// SupersededError says which run gave up, and for which newer state.
type SupersededError struct {
	Run      Record // this run's record
	Newer    Record // the newer record found
	Assigned bool   // the Floating IP had already been assigned
}

func (e *SupersededError) Error() string {
	s := fmt.Sprintf("MASTER run %d superseded by %s (run %d)", e.Run.Seq, e.Newer.State, e.Newer.Seq)
	if e.Assigned {
		s += " after the floating IP had been assigned"
	}
	return s
}

// Is makes errors.Is(err, ErrSuperseded) true.
func (e *SupersededError) Is(target error) bool { return target == ErrSuperseded }

// newer returns a *SupersededError when a record later than rec exists
// for rec's instance (see LatestFor) and accept does not take it.
func (s *Store) newer(rec Record, accept func(Record) bool) error {
	latest, err := s.LatestFor(rec.Instance)
	if err != nil {
		return err
	}
	if latest.Seq > rec.Seq && !accept(latest) {
		return &SupersededError{Run: rec, Newer: latest}
	}
	return nil
}

// anyNewer refuses every newer record; newerMaster lets a newer MASTER pass.
func anyNewer(Record) bool      { return false }
func newerMaster(r Record) bool { return r.State == Master }

// watchSuperseded returns a context that is canceled, with the
// *SupersededError as its cause, as soon as a newer non-MASTER state is
// recorded for rec's instance. A newer MASTER does not cancel: the IP should come here all
// the same. stop ends the watch.
func (s *Store) watchSuperseded(ctx context.Context, rec Record) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(watchInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
			}
			var sup *SupersededError
			if err := s.newer(rec, newerMaster); errors.As(err, &sup) {
				cancel(sup)
				return
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

package failover_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hakgen/hakgen/failover"
)

// countingStats is a stats frontend whose /backendz answers backendz and
// counts its requests.
func countingStats(t *testing.T, backendz int) (url string, asked *atomic.Int64) {
	t.Helper()
	asked = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == failover.BackendsPath {
			asked.Add(1)
			w.WriteHeader(backendz)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, asked
}

// TestBackendsWatch: a node that reaches no backend while its peer does
// is reported unfit after the hold; one whose peer reaches none either
// stays fit however long it looks.
func TestBackendsWatch(t *testing.T) {
	const every, hold = 10 * time.Millisecond, 50 * time.Millisecond
	watch := func(t *testing.T, peerCode int) (<-chan bool, *atomic.Int64) {
		self, asked := countingStats(t, http.StatusServiceUnavailable)
		peer, _ := countingStats(t, peerCode)
		ctx, cancel := context.WithCancel(context.Background())
		reports := make(chan bool, 16)
		done := make(chan struct{})
		go func() {
			defer close(done)
			failover.BackendsWatch{
				Eligibility: failover.Eligibility{Health: self + failover.HealthPath, Peers: []string{peer}},
				Every:       every, Hold: hold,
				Report: func(fit bool) error { reports <- fit; return nil },
			}.Run(ctx)
		}()
		t.Cleanup(func() { cancel(); <-done })
		return reports, asked
	}
	next := func(t *testing.T, reports <-chan bool) bool {
		t.Helper()
		select {
		case fit := <-reports:
			return fit
		case <-time.After(10 * time.Second):
			t.Fatal("no report within 10 s")
			return false
		}
	}

	t.Run("lost here, seen by the peer", func(t *testing.T) {
		reports, _ := watch(t, http.StatusOK)
		if !next(t, reports) {
			t.Error("the first look reported unfit: the hold was not waited out")
		}
		if next(t, reports) {
			t.Error("reported fit twice in a row")
		}
	})
	t.Run("a verdict not passed on is reported again", func(t *testing.T) {
		self, _ := countingStats(t, http.StatusServiceUnavailable)
		peer, _ := countingStats(t, http.StatusOK)
		ctx, cancel := context.WithCancel(context.Background())
		reports := make(chan bool, 16)
		done := make(chan struct{})
		failed := false
		go func() {
			defer close(done)
			failover.BackendsWatch{
				Eligibility: failover.Eligibility{Health: self + failover.HealthPath, Peers: []string{peer}},
				Every:       every, Hold: hold,
				Report: func(fit bool) error {
					reports <- fit
					if !fit && !failed { // the track file could not be written, once
						failed = true
						return errors.New("no space left on device")
					}
					return nil
				},
			}.Run(ctx)
		}()
		t.Cleanup(func() { cancel(); <-done })
		if !next(t, reports) {
			t.Fatal("the first look reported unfit")
		}
		if next(t, reports) || next(t, reports) {
			t.Error("after a failed report of unfit, the next report was not unfit again")
		}
	})
	t.Run("lost everywhere", func(t *testing.T) {
		reports, asked := watch(t, http.StatusServiceUnavailable)
		if !next(t, reports) {
			t.Fatal("the first look reported unfit")
		}
		// Many looks past the hold (5 looks): still nothing to report.
		for end := time.Now().Add(10 * time.Second); asked.Load() < 30 && time.Now().Before(end); {
			time.Sleep(every)
		}
		if asked.Load() < 30 {
			t.Fatalf("only %d looks within 10 s", asked.Load())
		}
		select {
		case fit := <-reports:
			t.Errorf("reported %v with no backend up anywhere", fit)
		default:
		}
	})
}

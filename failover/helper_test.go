package failover_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

const (
	fip  = hetznertest.FloatingIPID
	me   = hetznertest.ThisServer
	peer = hetznertest.OtherServer
)

// fakeAssigner is a hand-written Assigner and OwnerAssigner.
type fakeAssigner struct {
	mu          sync.Mutex
	calls       int
	inFlight    int
	maxInFlight int
	owner       int64

	started chan struct{} // gets a value when Assign starts, if not nil
	block   bool          // Assign waits until its context ends
	hold    time.Duration // Assign takes this long
	during  func()        // runs inside Assign
	err     error
}

var _ failover.OwnerAssigner = (*fakeAssigner)(nil)

func (a *fakeAssigner) Assign(ctx context.Context, floatingIPID, serverID int64) (hetzner.Result, error) {
	a.mu.Lock()
	a.calls++
	a.inFlight++
	a.maxInFlight = max(a.maxInFlight, a.inFlight)
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.inFlight--
		a.mu.Unlock()
	}()
	if a.started != nil {
		a.started <- struct{}{}
	}
	if a.during != nil {
		a.during()
	}
	if a.block {
		<-ctx.Done()
		return hetzner.Result{}, ctx.Err()
	}
	time.Sleep(a.hold)
	if a.err != nil {
		return hetzner.Result{}, a.err
	}
	a.mu.Lock()
	a.owner = serverID
	a.mu.Unlock()
	return hetzner.Result{FloatingIPID: floatingIPID, ServerID: serverID, Requests: 1}, nil
}

func (a *fakeAssigner) Owner(context.Context, int64) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.owner, nil
}

func (a *fakeAssigner) stats() (calls, maxInFlight int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls, a.maxInFlight
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core), logs
}

func notifier(dir string, a failover.Assigner, log *zap.Logger) *failover.Notifier {
	return failover.NewNotifier(failover.Config{
		StateDir: dir, FloatingIPID: fip, ServerID: failover.StaticServerID(me),
	}, a, log)
}

// apiClient is a real client of the fake, with short waits.
func apiClient(t *testing.T, f *hetznertest.Fake) *hetzner.Client {
	t.Helper()
	f.RequireToken("token")
	c, err := hetzner.NewClient(hetzner.Config{
		Endpoint: f.APIEndpoint(), Token: "token",
		PollInterval: 5 * time.Millisecond, RetryBackoff: 5 * time.Millisecond, LockedBackoff: 5 * time.Millisecond,
	}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func latest(t *testing.T, dir string) failover.Record {
	t.Helper()
	rec, err := failover.NewStore(dir).Latest()
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// waitFor polls cond for up to 10 s; the bound only guards against a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

// result waits (bounded) for a run started in a goroutine.
func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("notify run did not return")
		return nil
	}
}

func wantEndpoints(t *testing.T, f *hetznertest.Fake, want ...hetznertest.Endpoint) {
	t.Helper()
	if got := f.Endpoints(); !slices.Equal(got, want) {
		t.Errorf("requests = %v, want %v", got, want)
	}
}

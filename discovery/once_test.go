package discovery

import (
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/zap"
)

// TestOnceAndOffline: Once shows what a poll finds now, even a result the
// poller would hold back; Offline shows the kept set, with no request.
func TestOnceAndOffline(t *testing.T) {
	r := newRig(t, nil)
	r.worker(3001, "w1", "10.0.1.1")
	r.worker(3002, "w2", "10.0.1.2")
	r.complete(r.stateYAML(""))
	r.poll()
	r.fake.DeleteServer(3002)
	r.fake.PutServer(serverSpec(3003, "W3"))

	connect := HCloud(r.fake.APIEndpoint(), "test", zap.NewNop())
	res, err := Once(t.Context(), r.state, connect)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res.State.Workers); !slices.Equal(got, []string{"w1@10.0.1.1"}) || res.Requests != 2 {
		t.Errorf("Once: workers %v, %d requests", got, res.Requests)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Name != "W3" {
		t.Errorf("Once: skipped %+v", res.Skipped)
	}

	r.fake.ResetLog()
	off, found, err := Offline(r.state, filepath.Join(r.dir, "discovered.json"))
	if err != nil || !found {
		t.Fatalf("Offline: %v, found %v", err, found)
	}
	if got := setNames(off.Set.Workers); !slices.Equal(got, []string{"w1@10.0.1.1", "w2@10.0.1.2"}) || len(r.fake.Requests()) != 0 {
		t.Errorf("Offline: workers %v, requests %v", got, r.fake.Requests())
	}
	none, found, err := Offline(r.state, filepath.Join(r.dir, "none.json"))
	if err != nil || found || len(none.State.Workers) != 0 {
		t.Errorf("Offline without a file: %v, found %v, workers %v", err, found, none.State.Workers)
	}
}

package failover_test

import (
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/hakgen/hakgen/failover"
)

func TestRecordNumbersConcurrentRunsUniquely(t *testing.T) {
	dir := t.TempDir()
	const runs = 20
	seqs := make(chan uint64, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			st := failover.Backup
			if i%2 == 0 {
				st = failover.Master
			}
			rec, err := failover.NewStore(dir).Record(t.Context(), failover.Event{State: st})
			if err != nil {
				t.Error(err)
			}
			seqs <- rec.Seq
		})
	}
	wg.Wait()
	close(seqs)
	var got []uint64
	for s := range seqs {
		got = append(got, s)
	}
	slices.Sort(got)
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("sequence numbers %v, want 1..%d", got, runs)
		}
	}
	if rec := latest(t, dir); rec.Seq != runs || rec.PID != os.Getpid() || rec.Recorded.IsZero() {
		t.Errorf("latest = %+v", rec)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestLatestWithoutRecord(t *testing.T) {
	if rec := latest(t, t.TempDir()+"/missing"); rec.Seq != 0 {
		t.Errorf("Latest = %+v, want the zero record", rec)
	}
}

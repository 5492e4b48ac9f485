package failover_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

func TestNonMasterStatesOnlyRecord(t *testing.T) {
	dir := t.TempDir()
	a := &fakeAssigner{}
	n := notifier(dir, a, zap.NewNop())
	for i, args := range []string{"BACKUP", "FAULT", "STOP", "INSTANCE VI_1 BACKUP 100", "GROUP lbs FAULT 0", "INSTANCE VI_1 DELETED 100"} {
		if err := n.Notify(t.Context(), strings.Fields(args)); err != nil {
			t.Fatalf("Notify(%s): %v", args, err)
		}
		rec := latest(t, dir)
		if rec.Seq != uint64(i+1) || rec.Event != args {
			t.Errorf("after %s: record %+v, want seq %d", args, rec, i+1)
		}
	}
	if calls, _ := a.stats(); calls != 0 {
		t.Errorf("%d assigns for non-MASTER states", calls)
	}
}

func TestMasterAssignsWithKnownIDs(t *testing.T) {
	f := hetznertest.New(t)
	dir := t.TempDir()
	log, logs := observed()

	err := notifier(dir, apiClient(t, f), log).Notify(t.Context(), []string{"INSTANCE", "VI_1", "MASTER", "150"})
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	wantEndpoints(t, f, hetznertest.Assign, hetznertest.ListActions, hetznertest.GetFloatingIP)
	if f.Owner(fip) != me {
		t.Errorf("owner = %d, want %d", f.Owner(fip), me)
	}
	if rec := latest(t, dir); rec.State != failover.Master || rec.Event != "INSTANCE VI_1 MASTER 150" {
		t.Errorf("record = %+v", rec)
	}
	lines := logs.FilterMessage("floating IP assigned to this server").All()
	if len(lines) != 1 || lines[0].ContextMap()["took"] == nil {
		t.Errorf("want one success line with the duration, got %v", logs.All())
	}
}

func TestMasterLooksUpTheServerIDOnce(t *testing.T) {
	f := hetznertest.New(t)
	dir := t.TempDir()
	src := hetzner.NewServerIDSource(f.MetadataEndpoint(), dir, zap.NewNop())
	n := failover.NewNotifier(failover.Config{StateDir: dir, FloatingIPID: fip, ServerID: src.ServerID},
		apiClient(t, f), zap.NewNop())

	if err := n.Notify(t.Context(), []string{"MASTER"}); err != nil {
		t.Fatalf("first Notify: %v", err)
	}
	wantEndpoints(t, f, hetznertest.Metadata, hetznertest.Assign, hetznertest.ListActions, hetznertest.GetFloatingIP)

	f.ResetLog()
	f.Grab(fip, peer)
	if err := n.Notify(t.Context(), []string{"MASTER"}); err != nil {
		t.Fatalf("second Notify: %v", err)
	}
	wantEndpoints(t, f, hetznertest.Assign, hetznertest.ListActions, hetznertest.GetFloatingIP)
}

func TestStaleMasterGivesUpWhenBackupArrivesDuringTheAssign(t *testing.T) {
	dir := t.TempDir()
	a := &fakeAssigner{block: true, started: make(chan struct{}, 1)}
	n := notifier(dir, a, zap.NewNop())

	master := make(chan error, 1)
	go func() { master <- n.Notify(t.Context(), []string{"MASTER"}) }()
	<-a.started
	if err := n.Notify(t.Context(), []string{"BACKUP"}); err != nil {
		t.Fatalf("BACKUP while a MASTER run is busy: %v", err)
	}
	err := result(t, master)
	var sup *failover.SupersededError
	if !errors.As(err, &sup) || sup.Newer.State != failover.Backup || sup.Run.Seq != 1 || sup.Newer.Seq != 2 {
		t.Fatalf("MASTER run = %v, want superseded by BACKUP 2", err)
	}
	if failover.ExitCode(err) != failover.ExitSuperseded {
		t.Errorf("exit code %d, want %d", failover.ExitCode(err), failover.ExitSuperseded)
	}
}

func TestStaleMasterWaitingForTheLockGivesUp(t *testing.T) {
	dir := t.TempDir()
	a := &fakeAssigner{block: true, started: make(chan struct{}, 2)}
	n := notifier(dir, a, zap.NewNop())

	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- n.Notify(t.Context(), []string{"MASTER"}) }()
	<-a.started
	go func() { second <- n.Notify(t.Context(), []string{"MASTER"}) }()
	waitFor(t, "the second MASTER to be recorded", func() bool { return latest(t, dir).Seq == 2 })
	if err := n.Notify(t.Context(), []string{"FAULT"}); err != nil {
		t.Fatal(err)
	}

	for name, ch := range map[string]chan error{"first": first, "second": second} {
		if err := result(t, ch); !errors.Is(err, failover.ErrSuperseded) {
			t.Errorf("%s MASTER run = %v, want superseded", name, err)
		}
	}
	if calls, _ := a.stats(); calls != 1 {
		t.Errorf("%d assigns, want 1: the waiting run must give up before calling the API", calls)
	}
}

func TestStaleMasterGivesUpAgainstTheAPI(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(hetznertest.Assign, 1_000_000, hetznertest.Locked())
	dir := t.TempDir()
	n := notifier(dir, apiClient(t, f), zap.NewNop())

	master := make(chan error, 1)
	go func() { master <- n.Notify(t.Context(), []string{"MASTER"}) }()
	waitFor(t, "locked retries", func() bool { return f.Count(hetznertest.Assign) >= 2 })
	if err := n.Notify(t.Context(), []string{"STOP"}); err != nil {
		t.Fatal(err)
	}
	if err := result(t, master); !errors.Is(err, failover.ErrSuperseded) {
		t.Fatalf("MASTER run = %v, want superseded", err)
	}
	if f.Owner(fip) != peer {
		t.Error("the Floating IP moved although the node went to STOP")
	}
}

func TestBackupAfterASuccessfulAssignIsReported(t *testing.T) {
	dir := t.TempDir()
	a := &fakeAssigner{}
	a.during = func() {
		if _, err := failover.NewStore(dir).Record(context.Background(), failover.Event{State: failover.Backup}); err != nil {
			panic(err)
		}
	}
	err := notifier(dir, a, zap.NewNop()).Notify(t.Context(), []string{"MASTER"})
	var sup *failover.SupersededError
	if !errors.As(err, &sup) || !sup.Assigned {
		t.Fatalf("Notify = %v, want superseded after the assign", err)
	}
}

func TestConcurrentMasterRunsAreSerialized(t *testing.T) {
	dir := t.TempDir()
	a := &fakeAssigner{hold: 20 * time.Millisecond}
	const runs = 8
	errs := make(chan error, runs)
	var wg sync.WaitGroup
	for range runs {
		wg.Go(func() {
			errs <- notifier(dir, a, zap.NewNop()).Notify(t.Context(), []string{"MASTER"})
		})
	}
	wg.Wait()
	close(errs)

	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, failover.ErrSuperseded):
			t.Errorf("run failed: %v", err)
		}
	}
	calls, maxInFlight := a.stats()
	if maxInFlight != 1 {
		t.Errorf("%d assigns ran at once, want 1", maxInFlight)
	}
	if ok == 0 || calls != ok {
		t.Errorf("%d runs succeeded with %d assigns; want at least one, one assign each", ok, calls)
	}
	if rec := latest(t, dir); rec.Seq != runs || rec.State != failover.Master {
		t.Errorf("record = %+v, want MASTER %d", rec, runs)
	}
}

func TestNotifyDeadline(t *testing.T) {
	a := &fakeAssigner{block: true}
	n := failover.NewNotifier(failover.Config{
		StateDir: t.TempDir(), FloatingIPID: fip, ServerID: failover.StaticServerID(me), Deadline: 100 * time.Millisecond,
	}, a, zap.NewNop())

	err := n.Notify(t.Context(), []string{"MASTER"})
	if !errors.Is(err, context.DeadlineExceeded) || failover.ExitCode(err) != failover.ExitDeadline {
		t.Fatalf("Notify = %v (exit %d), want the deadline", err, failover.ExitCode(err))
	}
}

func TestNotifyRefusesBadArgumentsWithoutRecording(t *testing.T) {
	dir := t.TempDir()
	err := notifier(dir, &fakeAssigner{}, zap.NewNop()).Notify(t.Context(), []string{"PRIMARY"})
	if failover.ExitCode(err) != failover.ExitUsage {
		t.Fatalf("Notify = %v, want a usage error", err)
	}
	if rec := latest(t, dir); rec.Seq != 0 {
		t.Errorf("recorded %+v", rec)
	}
}

func TestMasterWithoutAClientStillRecords(t *testing.T) {
	dir := t.TempDir()
	n := notifier(dir, failover.Unavailable(hetzner.ErrNoToken), zap.NewNop())
	if err := n.Notify(t.Context(), []string{"MASTER"}); !errors.Is(err, hetzner.ErrNoToken) {
		t.Fatalf("Notify = %v, want the client's error", err)
	}
	if rec := latest(t, dir); rec.State != failover.Master {
		t.Errorf("record = %+v, want MASTER", rec)
	}
}

func TestExitCodes(t *testing.T) {
	for err, want := range map[error]int{
		nil:                    failover.ExitOK,
		errors.New("boom"):     failover.ExitFailed,
		hetzner.ErrNotAssigned: failover.ExitNotAssigned,
		fmt.Errorf("x: %w", failover.ErrSuperseded): failover.ExitSuperseded,
	} {
		if got := failover.ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
}

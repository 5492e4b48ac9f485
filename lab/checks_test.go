package lab_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/lab"
)

// Bounds of cp-failed.
const (
	// cpOutWithin bounds the time from a control plane's death until
	// HAProxy sends it no new connection (the 4 s at the default
	// checks).
	cpOutWithin = 4 * time.Second
	// slowCheck is how late cp-failed's slow /readyz answers: later than
	// a check interval, within the check's timeout.
	slowCheck = 1500 * time.Millisecond
	// checksWatch is how long cp-failed watches after its planned answers.
	checksWatch = 3 * time.Second
)

// cpFailed: cp2's process dies (its listener closes, its connections with
// it). HAProxy on lb1, the MASTER, marks it DOWN within cpOutWithin, and
// from then on no new connection fails. Then cp2 comes back, and of lb1's
// next checks of it one is answered 1.5 s late and a later one with 503:
// neither takes it out of the rotation, and it serves new connections
// throughout. The figure is the time until HAProxy marked it DOWN.
func cpFailed(t *testing.T, l *lab.Lab) lab.Run {
	lb1 := l.LBs[0]
	const victim = "cp2"
	cp := l.ControlPlane(victim)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := l.APIProber()
	if err := p.AwaitClean(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cp.Stop()
	t.Cleanup(func() { _ = cp.Start() })
	downLine := regexp.MustCompile(`Server kube-api/` + victim + ` is DOWN`)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	e, err := lb1.Journal.Wait(wctx, start, "haproxy", downLine)
	wcancel()
	if err != nil {
		t.Fatalf("HAProxy on %s never marked %s DOWN: %v", lb1.Name, victim, err)
	}
	down := e.Time
	time.Sleep(2 * time.Second) // new connections after DOWN must all succeed
	attempts := p.Stop()
	end := time.Now()
	took := down.Sub(start)
	before := lab.Failures(attempts, start, down)
	t.Logf("%s marked DOWN on %s %s after it stopped; %d new connections failed before", victim, lb1.Name, took.Round(time.Millisecond), len(before))
	if took > cpOutWithin {
		t.Errorf("HAProxy marked %s DOWN %s after it stopped, want at most %s", victim, took.Round(time.Millisecond), cpOutWithin)
	}
	if failed := lab.Failures(attempts, down, end); len(failed) > 0 {
		t.Errorf("%d new connections failed after HAProxy marked %s DOWN, first: %+v", len(failed), victim, failed[0])
	}

	oneBadCheck(t, ctx, l, cp)
	return lab.Run{
		Figure: &lab.Figure{Name: "out of the rotation after", Value: took.Seconds(), Unit: "s"},
		More:   []lab.Figure{{Name: "failed connections before", Value: float64(len(before))}},
	}
}

// oneBadCheck brings cp back, then plans one late /readyz answer and, two
// answers later, one 503 for lb1's checks, and checks that cp stays UP on
// lb1 and keeps getting new connections.
func oneBadCheck(t *testing.T, ctx context.Context, l *lab.Lab, cp *lab.ControlPlane) {
	t.Helper()
	lb1 := l.LBs[0]
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := waitServer(ctx, lb1, "kube-api", cp.Name, "UP", time.Minute); err != nil {
		t.Fatal(err)
	}
	p := l.APIProber()
	if err := p.AwaitClean(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	cp.PlanReadyz(lb1.Plan.Private, lab.ReadyzAnswer{Delay: slowCheck}, lab.ReadyzAnswer{}, lab.ReadyzAnswer{}, lab.ReadyzAnswer{Status: http.StatusServiceUnavailable})
	var statuses []string
	deadline := time.Now().Add(time.Minute)
	for len(cp.PlannedServed()) < 4 && time.Now().Before(deadline) {
		statuses = appendStatus(ctx, statuses, lb1, cp.Name)
		time.Sleep(100 * time.Millisecond)
	}
	served := cp.PlannedServed()
	if len(served) < 4 {
		t.Fatalf("%s answered %d of its 4 planned checks within a minute", cp.Name, len(served))
	}
	for end := time.Now().Add(checksWatch); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		statuses = appendStatus(ctx, statuses, lb1, cp.Name)
	}
	attempts := p.Stop()
	end := time.Now()
	if len(statuses) == 0 {
		t.Errorf("%s's stats page never answered during the bad checks", lb1.Name)
	}
	for _, s := range statuses {
		if !strings.HasPrefix(s, "UP") {
			t.Errorf("%s was %q on %s after one slow and one failed check (all: %v)", cp.Name, s, lb1.Name, statuses)
			break
		}
	}
	if e, ok := lb1.Journal.Find(since, "haproxy", regexp.MustCompile(`Server kube-api/`+cp.Name+` is DOWN`)); ok {
		t.Errorf("one slow and one failed check took %s out: %s", cp.Name, e)
	}
	if _, ok := lb1.Journal.Find(since, "haproxy", regexp.MustCompile(`Health check for server kube-api/`+cp.Name+` failed`)); !ok {
		t.Errorf("HAProxy on %s logged no failed check of %s: the 503 did not count", lb1.Name, cp.Name)
	}
	if n := len(lab.ServedBy(attempts, cp.Name, since, end)); n == 0 {
		t.Errorf("%s got no new connection during its bad checks", cp.Name)
	}
	if failed := lab.Failures(attempts, since, end); len(failed) > 0 {
		t.Errorf("%d new connections failed during the bad checks, first: %+v", len(failed), failed[0])
	}
	t.Logf("%s's bad checks from %s: slow one answered at +%s, 503 at +%s; %d status samples, all UP: %v",
		cp.Name, lb1.Name, served[0].At.Sub(since).Round(time.Millisecond), served[3].At.Sub(since).Round(time.Millisecond), len(statuses), !t.Failed())
}

// appendStatus appends server's status on lb's stats page now (nothing
// when the page cannot be read).
func appendStatus(ctx context.Context, statuses []string, lb *lab.LB, server string) []string {
	st, err := lb.ServerStatus(ctx, "kube-api")
	if err != nil {
		return statuses
	}
	return append(statuses, st[server])
}

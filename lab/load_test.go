package lab_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/lab"
)

// Bounds of the scenarios under load.
const (
	// floodHold is how long flood keeps both ingress frontends full.
	floodHold = 20 * time.Second
	// floodPerSlot is how many idle connections flood tries to hold per
	// connection slot of a frontend: enough to fill the slots and the
	// listen queue behind them (as long as the slots), until connects
	// time out.
	floodPerSlot = 3
	// floodMinOK is the share of new API connections that must succeed
	// during the flood (the 99 %).
	floodMinOK = 0.99

	// loadClients is how many clients reload-under-load runs: half short
	// connections (TLS to the API port, HTTP to port 80), half streams.
	loadClients = 64
	// loadEdits edits of state.yaml on both nodes, loadEditEvery apart
	// (the 30 in 60 s; CI: loadEditsCI).
	loadEdits     = 30
	loadEditsCI   = 10
	loadEditEvery = 2 * time.Second
	// loadPause is a short client's pause between two connections, and
	// loadTimeout bounds one connection: far above a reload's, so a
	// failure is a connection lost, not a slow one.
	loadPause   = 100 * time.Millisecond
	loadTimeout = 3 * time.Second
)

// flood: idle connections are held on ports 80 and 443 until the ingress
// frontends are full and further connects time out, for floodHold. The
// lab's haproxy.maxconn is lab.LabMaxConn, so the default shares give the
// API 20 % of it, ingress HTTP 20 % and HTTPS 50 %. At least floodMinOK of
// the new API connections succeed meanwhile, and nothing fails over (the
// check has its own connections too). The figure is the share of API
// connections that succeeded during the flood.
func flood(t *testing.T, l *lab.Lab) lab.Run {
	lb1 := l.LBs[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fronts, err := lb1.Frontends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	httpLimit, httpsLimit, apiLimit := fronts["ingress-http"].Limit, fronts["ingress-https"].Limit, fronts["kube-api"].Limit
	if httpLimit == 0 || httpsLimit == 0 || apiLimit == 0 {
		t.Fatalf("frontends without a connection limit: %+v", fronts)
	}
	p := l.APIProber()
	if err := p.AwaitClean(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f80 := l.StartFlood(l.Plan.HTTPPort, floodPerSlot*httpLimit)
	f443 := l.StartFlood(l.Plan.HTTPSPort, floodPerSlot*httpsLimit)
	full, err := awaitFull(ctx, lb1, "ingress-http", "ingress-https")
	if err != nil {
		f80.Stop()
		f443.Stop()
		t.Fatal(err)
	}
	peak := map[string]int{}
	for end := full.Add(floodHold); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if st, err := lb1.Frontends(ctx); err == nil {
			for name, f := range st {
				peak[name] = max(peak[name], f.Current)
			}
		}
	}
	over := time.Now()
	s80, s443 := f80.Stop(), f443.Stop()
	attempts := p.Stop()
	end := time.Now()
	ok, all := 0, 0
	for _, a := range attempts {
		if !a.Start.Before(full) && a.Start.Before(over) {
			all++
			if a.OK() {
				ok++
			}
		}
	}
	t.Logf("frontends full %s after the flood began; held on 80: %+v, on 443: %+v; peak connections %v; API: %d of %d new connections succeeded",
		full.Sub(start).Round(time.Millisecond), s80, s443, peak, ok, all)
	share := 0.0
	if all > 0 {
		share = float64(ok) / float64(all)
	}
	if all == 0 || share < floodMinOK {
		t.Errorf("%d of %d new API connections succeeded during the flood (%.1f %%), want at least %.0f %%", ok, all, 100*share, 100*floodMinOK)
	}
	if s80.Failed == 0 || s443.Failed == 0 {
		t.Errorf("the flood's connects were never refused (80: %d, 443: %d failed): the frontends were not full", s80.Failed, s443.Failed)
	}
	noFailover(t, l, start, end)
	return lab.Run{
		Figure: &lab.Figure{Name: "API connections ok in the flood", Value: 100 * share, Unit: "%"},
		More: []lab.Figure{
			{Name: "idle held on 80", Value: float64(peak["ingress-http"])},
			{Name: "on 443", Value: float64(peak["ingress-https"])},
		},
	}
}

// awaitFull waits until every frontend named holds as many connections
// as its limit on lb.
func awaitFull(ctx context.Context, lb *lab.LB, frontends ...string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last map[string]lab.FrontendStat
	for {
		st, err := lb.Frontends(ctx)
		if err == nil {
			last = st
			full := true
			for _, name := range frontends {
				full = full && st[name].Current >= st[name].Limit
			}
			if full {
				return time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("the flood did not fill %v on %s: %+v", frontends, lb.Name, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// reloadUnderLoad: loadClients clients run (a quarter opening short TLS
// connections to the API port, a quarter HTTP requests to port 80, half
// holding streams from the API port) while state.yaml is edited on both
// nodes loadEdits times (CI: loadEditsCI), loadEditEvery apart; each edit
// changes haproxy.timeouts.connect, which takes a reload. No connection
// fails, no stream ends (hard-stop-after is 15 minutes), each edit is one
// reload. The figures: the reloads, the most old workers alive at once on
// lb1, and its HAProxy's total RSS at most.
func reloadUnderLoad(t *testing.T, l *lab.Lab) lab.Run {
	lb1 := l.LBs[0]
	edits := loadEdits
	if !*long {
		edits = loadEditsCI
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(edits)*loadEditEvery+3*time.Minute)
	defer cancel()
	var streams []*lab.Stream
	for range loadClients / 2 {
		s, err := l.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	api := l.StartClients("api", loadClients/4, loadPause, loadTimeout, func(ctx context.Context) (string, error) {
		r, err := l.GetAPI(ctx, "/")
		return strings.TrimSpace(string(r.Body)), err
	})
	web := l.StartClients("http", loadClients/4, loadPause, loadTimeout, func(ctx context.Context) (string, error) {
		a, err := l.GetHTTP(ctx)
		return a.Server, err
	})
	watch := lb1.WatchHAProxy(250 * time.Millisecond)
	before := reloads(t, l)
	start := time.Now()
	var last []byte
	for i := range edits {
		connect := []string{"4s", "6s"}[i%2]
		next, err := lab.Edit(l.State, fmt.Sprintf("haproxy: {maxconn: %d}", lab.LabMaxConn), fmt.Sprintf("haproxy: {maxconn: %d, timeouts: {connect: %s}}", lab.LabMaxConn, connect))
		if err != nil {
			t.Fatal(err)
		}
		for _, lb := range l.LBs {
			if err := lb.WriteState(next); err != nil {
				t.Fatal(err)
			}
		}
		last = next
		waitUntil(ctx, start.Add(time.Duration(i+1)*loadEditEvery))
	}
	hash, err := lab.StateHash(last)
	if err != nil {
		t.Fatal(err)
	}
	for _, lb := range l.LBs {
		if _, err := lb.WaitApplied(ctx, hash); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	end := time.Now()
	apiAttempts, webAttempts := api.Stop(), web.Stop()
	peak, samples, werr := watch.Stop()
	after := reloads(t, l)

	for name, attempts := range map[string][]lab.Attempt{"6443": apiAttempts, "80": webAttempts} {
		if failed := lab.Failures(attempts, start, end); len(failed) > 0 {
			t.Errorf("port %s: %d of %d connections failed during the reloads, first: %+v", name, len(failed), len(attempts), failed[0])
		}
	}
	cut, gap := 0, time.Duration(0)
	for _, s := range streams {
		if ended, gone := s.Ended(); gone {
			cut++
			t.Errorf("a stream from %s ended at %s: %v", s.Server, ended.Format("15:04:05.000"), s.Err())
		}
		gap = max(gap, s.MaxGap(start, end))
	}
	for i, lb := range l.LBs {
		if n := after[i] - before[i]; n != edits {
			t.Errorf("%s reloaded %d times for %d edits", lb.Name, n, edits)
		}
	}
	if samples == 0 {
		t.Errorf("no sample of %s's HAProxy: %v", lb1.Name, werr)
	}
	t.Logf("%d edits in %s: %d and %d reloads; %d API and %d HTTP connections, %d streams (%d cut, longest silence %s); on %s at most %d old workers, %.1f MB RSS (%d samples)",
		edits, end.Sub(start).Round(time.Millisecond), after[0]-before[0], after[1]-before[1], len(apiAttempts), len(webAttempts),
		len(streams), cut, gap.Round(time.Millisecond), lb1.Name, peak.OldWorkers(), float64(peak.RSS)/(1<<20), samples)
	return lab.Run{
		Figure: &lab.Figure{Name: "reloads", Value: float64(after[0] - before[0])},
		More: []lab.Figure{
			{Name: "old workers at once", Value: float64(peak.OldWorkers())},
			{Name: "HAProxy RSS", Value: float64(peak.RSS) / (1 << 20), Unit: "MB"},
			{Name: "failed", Value: float64(len(lab.Failures(apiAttempts, start, end)) + len(lab.Failures(webAttempts, start, end)) + cut)},
		},
	}
}

// reloads are the agents' reload counts of HAProxy, in the order of l.LBs.
func reloads(t *testing.T, l *lab.Lab) []int {
	t.Helper()
	var out []int
	for _, lb := range l.LBs {
		st, err := lb.Status()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st.Counts.Targets["haproxy"].Reloads)
	}
	return out
}

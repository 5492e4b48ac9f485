package lab_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/lab"
)

// Bounds of the traffic scenarios.
const (
	// samples is how many connections passthrough makes per port.
	samples = 30
	// streams is how many log streams readyz-503 keeps open.
	streams = 6
	// downWithin bounds the time until HAProxy stops sending a failing
	// API server connections: the Kubernetes guidance is within 30 s, and
	// hakgen's checks take a few seconds; a wide margin.
	downWithin = 25 * time.Second
	// maxStreamGap is the longest silence allowed on a healthy stream.
	maxStreamGap = 500 * time.Millisecond
	// applyWithin bounds one edit of state-edit (an upper bound).
	applyWithin = 30 * time.Second
)

// passthrough: TLS passes through to the backends untouched. The client
// gets each control plane's own certificate (by fingerprint, for the name
// the backend answers with), ports 80 and 443 reach every worker (443
// with the worker's own certificate), and with ingress.proxyProtocol the
// workers see the client's own address and port. The figure is the
// median time of one request on a new TLS connection through the
// Floating IP.
func passthrough(t *testing.T, l *lab.Lab) lab.Run {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var took []time.Duration
	seen := map[string]int{}
	for i := range samples {
		start := time.Now()
		r, err := l.GetAPI(ctx, "/")
		if err != nil {
			t.Fatalf("API request %d: %v", i, err)
		}
		took = append(took, time.Since(start))
		name := strings.TrimSpace(string(r.Body))
		cp := l.ControlPlane(name)
		switch {
		case cp == nil:
			t.Errorf("API request %d answered by %q, no control plane", i, name)
		case r.Fingerprint != cp.Fingerprint:
			t.Errorf("API request %d: %s answered with certificate %.16s (of %s), not its own %.16s", i, name, r.Fingerprint, r.CertName, cp.Fingerprint)
		}
		seen[name]++
	}
	expectAll(t, "the API port", seen, names(l.Plan.ControlPlanes))

	lb1 := l.LBs[0]
	checkIngress(t, ctx, l, false, lb1.Plan.Private.String())
	state := append(bytes.Clone(l.State), "ingress: {proxyProtocol: true}\n"...)
	applyOnBoth(t, ctx, l, state)
	checkIngress(t, ctx, l, true, lab.ClientAddr.String())

	slices.Sort(took)
	return lab.Run{Figure: &lab.Figure{Name: "TLS request via the Floating IP, median", Value: float64(took[len(took)/2]) / float64(time.Millisecond), Unit: "ms"}}
}

// checkIngress asks the workers through 80 and 443: every worker answers,
// 443 with its own certificate, and each sees the client as want (the
// load balancer's address without PROXY protocol, the client's own with
// it, port included).
func checkIngress(t *testing.T, ctx context.Context, l *lab.Lab, proxied bool, want string) {
	t.Helper()
	for _, https := range []bool{false, true} {
		port, get := "80", l.GetHTTP
		if https {
			port, get = "443", l.GetHTTPS
		}
		seen := map[string]int{}
		for i := range samples {
			a, err := get(ctx)
			if err != nil {
				t.Fatalf("port %s, request %d: %v", port, i, err)
			}
			seen[a.Server]++
			host, _, _ := net.SplitHostPort(a.Client)
			switch {
			case a.Proxied != proxied:
				t.Errorf("port %s: %s saw a PROXY header: %v, want %v", port, a.Server, a.Proxied, proxied)
			case host != want:
				t.Errorf("port %s: %s saw the client as %s, want %s", port, a.Server, a.Client, want)
			case proxied && a.Client != a.Local:
				t.Errorf("port %s: %s saw the client as %s, but it was %s", port, a.Server, a.Client, a.Local)
			}
			if https {
				if wk := worker(l, a.Server); wk == nil || a.Fingerprint != wk.Fingerprint {
					t.Errorf("port 443: %s answered with certificate %.16s, not its own", a.Server, a.Fingerprint)
				}
			}
		}
		expectAll(t, "port "+port, seen, names(l.Plan.Workers))
	}
}

// readyz503: a control plane's /readyz turns 503. HAProxy takes it out
// after its failed checks (the figure: the time until the last new
// connection it got), closes the streams to it, and the streams to the
// healthy ones go on without a gap.
func readyz503(t *testing.T, l *lab.Lab) lab.Run {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var open []*lab.Stream
	perServer := map[string]int{}
	for range streams {
		s, err := l.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, s)
		perServer[s.Server]++
	}
	failing := ""
	for _, name := range names(l.Plan.ControlPlanes) {
		if perServer[name] > 0 && (failing == "" || name == "cp2") {
			failing = name
		}
	}
	if failing == "" || perServer[failing] == streams {
		t.Fatalf("the streams went to %v: need some on the failing control plane and some elsewhere", perServer)
	}
	p := l.APIProber()
	if err := p.AwaitClean(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	lb1 := l.LBs[0]
	start := time.Now()
	l.ControlPlane(failing).SetReady(false)
	down, err := waitServer(ctx, lb1, "kube-api", failing, "DOWN", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // new connections after DOWN must go elsewhere
	attempts := p.Stop()
	end := time.Now()
	t.Logf("%s marked DOWN on %s %s after /readyz turned 503", failing, lb1.Name, down.Sub(start).Round(time.Millisecond))

	served := lab.ServedBy(attempts, failing, start, end)
	if len(served) == 0 {
		t.Fatalf("%s got no new connection after /readyz turned 503", failing)
	}
	last := served[len(served)-1].Start
	if late := lab.ServedBy(attempts, failing, down, end); len(late) > 0 {
		t.Errorf("%d new connections went to %s after HAProxy marked it DOWN", len(late), failing)
	}
	if took := last.Sub(start); took > downWithin {
		t.Errorf("%s got new connections for %s after turning 503, want at most %s", failing, took, downWithin)
	}
	if failed := lab.Failures(attempts, start, end); len(failed) > 0 {
		t.Errorf("%d new connections failed, first: %+v", len(failed), failed[0])
	}
	for _, s := range open {
		ended, gone := s.Ended()
		switch {
		case s.Server == failing && !gone:
			t.Errorf("a stream to %s is still open after HAProxy marked it DOWN", failing)
		case s.Server == failing && ended.Before(start):
			t.Errorf("a stream to %s ended before /readyz turned 503", failing)
		case s.Server != failing:
			if gap := s.MaxGap(start, end); gap > maxStreamGap {
				t.Errorf("a stream to %s was silent for %s (ended: %v, %v)", s.Server, gap.Round(time.Millisecond), gone, s.Err())
			}
		}
	}
	return lab.Run{Figure: &lab.Figure{Name: "no new connection after", Value: last.Sub(start).Seconds(), Unit: "s"}}
}

// waitServer waits until lb's HAProxy shows server of backend with a
// status starting with want (a prefix: "DOWN" also matches "DOWN 1/2").
func waitServer(ctx context.Context, lb *lab.LB, backend, server, want string, within time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	last := ""
	for {
		st, err := lb.ServerStatus(ctx, backend)
		if err == nil && strings.HasPrefix(st[server], want) {
			return time.Now(), nil
		}
		last = fmt.Sprintf("%v %v", st[server], err)
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s: %s/%s never %s (last: %s)", lb.Name, backend, server, want, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stateEdit: state.yaml is edited on both nodes, one line at a time:
// cp3 removed, w3 removed, w3 and cp3 back. Every edit is applied on both
// (HAProxy's servers are the state's), a removed server gets no new
// connection, and no new connection fails on 6443 or 80 during the
// reloads. Each edit changes servers only, so both agents apply it
// through HAProxy's Runtime API: no reload at all. The figure is the
// slowest edit's time until applied on both.
func stateEdit(t *testing.T, l *lab.Lab) lab.Run {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	line := func(s lab.Server) string { return fmt.Sprintf("  - {name: %s, address: %s}\n", s.Name, s.Addr) }
	cps, wks := l.Plan.ControlPlanes, l.Plan.Workers
	cp3, w3 := cps[len(cps)-1], wks[len(wks)-1]
	edits := []struct{ what, old, new string }{
		{"remove " + cp3.Name, line(cp3), ""},
		{"remove " + w3.Name, line(w3), ""},
		{"add " + w3.Name + " back", line(wks[len(wks)-2]), line(wks[len(wks)-2]) + line(w3)},
		{"add " + cp3.Name + " back", line(cps[len(cps)-2]), line(cps[len(cps)-2]) + line(cp3)},
	}
	api, web := l.APIProber(), l.HTTPProber()
	for _, p := range []*lab.Prober{api, web} {
		if err := p.AwaitClean(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	type counts struct{ reloads, runtime int }
	before := map[string]counts{}
	scraped := map[string]float64{}
	for _, lb := range l.LBs {
		s, err := lb.Status()
		if err != nil {
			t.Fatal(err)
		}
		before[lb.Name] = counts{s.Counts.Reloads, s.Counts.RuntimeUpdates}
		if scraped[lb.Name], err = lb.Metric(ctx, runtimeOK); err != nil {
			t.Fatal(err)
		}
	}
	begin := time.Now()
	state, slowest := l.State, time.Duration(0)
	for _, e := range edits {
		next, err := lab.Edit(state, e.old, e.new)
		if err != nil {
			t.Fatalf("%s: %v", e.what, err)
		}
		state = next
		took := applyOnBoth(t, ctx, l, state)
		slowest = max(slowest, took)
		t.Logf("%s: applied on both after %s", e.what, took.Round(time.Millisecond))
		checkServers(t, ctx, l, state)
		time.Sleep(1500 * time.Millisecond) // let the client open connections under the new file
	}
	end := time.Now()
	apiAttempts, webAttempts := api.Stop(), web.Stop()
	for name, attempts := range map[string][]lab.Attempt{"6443": apiAttempts, "80": webAttempts} {
		if failed := lab.Failures(attempts, begin, end); len(failed) > 0 {
			t.Errorf("port %s: %d of %d new connections failed during the edits, first: %+v", name, len(failed), len(attempts), failed[0])
		}
	}
	for _, lb := range l.LBs {
		if code, out := lb.AgentStatus(ctx); code != 0 {
			t.Errorf("%s: hakgen-agent status exited %d:\n%s", lb.Name, code, out)
		}
		s, err := lb.Status()
		if err != nil {
			t.Fatal(err)
		}
		b := before[lb.Name]
		if reloads, runtime := s.Counts.Reloads-b.reloads, s.Counts.RuntimeUpdates-b.runtime; reloads != 0 || runtime != len(edits) {
			t.Errorf("%s: %d reloads and %d runtime updates for %d server-only edits, want 0 and %d", lb.Name, reloads, runtime, len(edits), len(edits))
		}
		// The agent's own metrics say the same, as Prometheus scrapes them.
		if v, err := lb.Metric(ctx, runtimeOK); err != nil || v-scraped[lb.Name] != float64(len(edits)) {
			t.Errorf("%s: %s went from %v to %v (%v), want %d more", lb.Name, runtimeOK, scraped[lb.Name], v, err, len(edits))
		}
	}
	return lab.Run{Figure: &lab.Figure{Name: "applied on both, slowest of 4 edits", Value: float64(slowest) / float64(time.Millisecond), Unit: "ms"}}
}

// runtimeOK is the agent's metric of server changes applied without a
// reload.
const runtimeOK = `hakgen_runtime_updates_total{result="ok"}`

// applyOnBoth saves state on both load balancers at once and returns the
// time until both agents reported it applied.
func applyOnBoth(t *testing.T, ctx context.Context, l *lab.Lab, state []byte) time.Duration {
	t.Helper()
	hash, err := lab.StateHash(state)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, lb := range l.LBs {
		if err := lb.WriteState(state); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, applyWithin)
	defer cancel()
	var last time.Time
	for _, lb := range l.LBs {
		at, err := lb.WaitApplied(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		last = later(last, at)
	}
	return last.Sub(start)
}

// checkServers checks that both HAProxies run exactly the state's
// servers, and that a removed control plane gets no new connection.
func checkServers(t *testing.T, ctx context.Context, l *lab.Lab, state []byte) {
	t.Helper()
	for _, lb := range l.LBs {
		for backend, want := range map[string][]lab.Server{"kube-api": serversIn(l.Plan.ControlPlanes, state), "ingress-http": serversIn(l.Plan.Workers, state)} {
			st, err := lb.ServerStatus(ctx, backend)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(st)); !slices.Equal(got, names(want)) {
				t.Errorf("%s: HAProxy's %s has %v, the state %v", lb.Name, backend, got, names(want))
			}
		}
	}
}

// serversIn returns the servers of all whose line is in state.
func serversIn(all []lab.Server, state []byte) []lab.Server {
	var out []lab.Server
	for _, s := range all {
		if bytes.Contains(state, fmt.Appendf(nil, "{name: %s, address: %s}", s.Name, s.Addr)) {
			out = append(out, s)
		}
	}
	return out
}

func names(servers []lab.Server) []string {
	var out []string
	for _, s := range servers {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out
}

// expectAll checks that every one of want answered on what.
func expectAll(t *testing.T, what string, seen map[string]int, want []string) {
	t.Helper()
	for _, name := range want {
		if seen[name] == 0 {
			t.Errorf("%s: %s never answered (answers: %v)", what, name, seen)
		}
	}
}

func worker(l *lab.Lab, name string) *lab.Worker {
	for _, w := range l.Workers {
		if w.Name == name {
			return w
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

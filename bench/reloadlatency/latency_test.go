// Package reloadlatency measures how long an edit of state.yaml takes to
// reach traffic: from the write of the file to the first connection through
// a real HAProxy that the new configuration routes. Run it through
// bench/reload-latency.sh.
package reloadlatency

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/state"
)

var (
	minQuiescence = flag.Duration("min-quiescence", agent.DefaultMinQuiescence, "the agent's --min-quiescence")
	minReload     = flag.Duration("min-reload-interval", agent.DefaultMinReloadInterval, "the agent's --min-reload-interval; edits are spaced by it")
	pollEvery     = flag.Duration("poll", 2*time.Millisecond, "pause between two connections through HAProxy while waiting")
)

// applyTimeout bounds the wait for one edit to reach traffic.
const applyTimeout = 30 * time.Second

// timedChecker is haproxy.Checker with the time each check took.
type timedChecker struct {
	haproxy.Checker
	mu    sync.Mutex
	spent time.Duration
}

func (c *timedChecker) Check(ctx context.Context, path string) (string, error) {
	start := time.Now()
	w, err := c.Checker.Check(ctx, path)
	c.mu.Lock()
	c.spent += time.Since(start)
	c.mu.Unlock()
	return w, err
}

// take returns the time spent in checks since the last take.
func (c *timedChecker) take() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.spent
	c.spent = 0
	return d
}

// BenchmarkReloadLatency makes b.N edits (-benchtime 30x for 30), each
// switching the ingress backend between two servers, and reports the p50
// and p95 of edit→routed and the share of it spent in `haproxy -c`.
func BenchmarkReloadLatency(b *testing.B) {
	bin := tooltest.Need(b, "haproxy")
	dir := b.TempDir()
	sockDir, err := os.MkdirTemp("", "hakgen-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(sockDir) })
	statePath, cfgPath := filepath.Join(dir, "state.yaml"), filepath.Join(dir, "haproxy.cfg")

	httpPort, _ := agenttest.TCPBackends(b, "w1", "w2")
	httpsPort, _ := agenttest.TCPBackends(b, "w1", "w2")
	apiPort, _ := agenttest.TCPBackends(b, "cp1")
	base := agenttest.State{
		APIPort: haproxytest.FreePort(b), APIBackendPort: apiPort, HTTPPort: haproxytest.FreePort(b), HTTPBackendPort: httpPort,
		HTTPSPort: haproxytest.FreePort(b), HTTPSBackendPort: httpsPort, StatsPort: haproxytest.FreePort(b),
		ControlPlanes: []agenttest.Server{{Name: "cp1", Address: "127.0.0.2"}},
	}
	stateFor := func(i int) agenttest.State {
		s := base
		s.Workers = []agenttest.Server{{Name: []string{"w1", "w2"}[i%2], Address: []string{"127.0.0.2", "127.0.0.3"}[i%2]}}
		return s
	}
	renderFn := agenttest.LoopbackRender(filepath.Join(sockDir, "admin.sock"))
	install(b, statePath, cfgPath, stateFor(0).YAML(), renderFn)
	in := haproxytest.Start(b, cfgPath)

	checker := &timedChecker{Checker: haproxy.Checker{Bin: bin, Args: []string{"-S", in.Socket}}}
	a, err := agent.New(agent.Config{
		StatePath: statePath, StatusPath: filepath.Join(dir, "status.json"),
		MinQuiescence: *minQuiescence, MinReloadInterval: orNone(*minReload),
		Targets: []agent.Target{{Name: "haproxy", Path: cfgPath, LastGood: cfgPath + ".last-good", Render: renderFn,
			Checker: checker, Reloader: haproxy.NewMasterReloader(in.Master, zap.NewNop())}},
	}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	addr := "127.0.0.1:" + strconv.Itoa(base.HTTPPort)
	waitRoutes(b, addr, "w1")
	checker.take()

	var latencies, checks []time.Duration
	edit := 0
	for b.Loop() {
		time.Sleep(*minReload + 50*time.Millisecond) // edits of people are far apart
		edit++
		want := []string{"w1", "w2"}[edit%2]
		start := time.Now()
		if err := agenttest.RenameOver(statePath, stateFor(edit).YAML()); err != nil {
			b.Fatal(err)
		}
		waitRoutes(b, addr, want)
		latencies = append(latencies, time.Since(start))
		checks = append(checks, checker.take())
	}
	report(b, latencies, checks)
}

// install writes the state and what it renders, for HAProxy's first start.
func install(b *testing.B, statePath, cfgPath string, yaml []byte, renderFn func(*state.State) ([]byte, error)) {
	if err := os.WriteFile(statePath, yaml, 0o644); err != nil {
		b.Fatal(err)
	}
	s, _, err := state.Load(statePath)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := renderFn(s)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		b.Fatal(err)
	}
}

// waitRoutes connects through HAProxy until the answer is want, bounded.
func waitRoutes(b *testing.B, addr, want string) {
	deadline := time.Now().Add(applyTimeout)
	for time.Now().Before(deadline) {
		if got, err := haproxytest.Ask(addr); err == nil && strings.TrimSpace(got) == want {
			return
		}
		time.Sleep(*pollEvery)
	}
	b.Fatalf("haproxy did not route to %s within %s", want, applyTimeout)
}

func report(b *testing.B, latencies, checks []time.Duration) {
	if len(latencies) == 0 {
		return
	}
	var total, checked time.Duration
	for i := range latencies {
		total += latencies[i]
		checked += checks[i]
	}
	sorted := slices.Clone(latencies)
	slices.Sort(sorted)
	p50, p95 := percentile(sorted, 50), percentile(sorted, 95)
	share := 100 * checked.Seconds() / total.Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p95), "p95-ms")
	b.ReportMetric(share, "check-%")
	b.Logf("%d edits: edit→routed p50 %s, p95 %s, max %s; haproxy -c %s per edit on average (%.0f%% of the latency); min quiescence %s",
		len(latencies), p50.Round(time.Millisecond), p95.Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond),
		(checked / time.Duration(len(checks))).Round(time.Millisecond), share, *minQuiescence)
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// orNone maps 0 to agent.Config's "no minimum interval".
func orNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

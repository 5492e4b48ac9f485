package serverchanges

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/agent/agenttest"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
)

var (
	churnEdits   = flag.Int("churn-edits", 100, "server edits of BenchmarkChurn")
	churnSpacing = flag.Duration("churn-spacing", 500*time.Millisecond, "pause after each applied edit of BenchmarkChurn")
	shortClients = flag.Int("short-clients", 48, "clients making short connections through ingress HTTP")
	streams      = flag.Int("streams", 16, "clients holding long-lived streams through the API frontend")
)

// churnCounts are what the clients and the sampler saw.
type churnCounts struct {
	shortOK, failedConnects, shortCut atomic.Int64
	streamsOpened, streamsCut         atomic.Int64
}

// BenchmarkChurn applies -churn-edits server edits (workers added,
// removed, re-addressed, re-weighted, drained) while -short-clients make
// short connections through ingress HTTP and -streams hold long-lived
// streams through the API frontend (a quarter of them for the whole run,
// as watches do; the others for 2 to 20 s, then they reconnect), once on
// the runtime path and once on the reload path. It reports the master's
// reloads, the new worker processes, connections that failed before any
// answer, short connections cut after one (only a removed server's
// sessions may be: removal ends them), streams cut, the most old workers
// alive at once, and HAProxy's total RSS at its highest (master and every
// worker). Use -benchtime 1x: one iteration is the whole run.
func BenchmarkChurn(b *testing.B) {
	for _, path := range []string{pathRuntime, pathReload} {
		b.Run("path="+path, func(b *testing.B) {
			for b.Loop() {
				churn(b, path)
			}
		})
	}
}

func churn(b *testing.B, path string) {
	r := startRig(b, rigConfig{path: path, minReloadInterval: -1, hardStopAfter: "15m"}, func(r *rig) []agenttest.Server {
		return []agenttest.Server{r.worker("w2", 2), r.worker("w3", 3), r.worker("w4", 4)}
	})
	start := r.procs()
	var counts churnCounts
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range *shortClients {
		wg.Go(func() { shortLoop(ctx, r.ingressHTTP(), &counts) })
	}
	for i := range *streams {
		wg.Go(func() { streamLoop(ctx, r.api(), i%4 == 0, &counts) })
	}
	s := startSampler(r)
	time.Sleep(time.Second) // every client connected
	edits := churnPlan(r, *churnEdits)
	for _, ws := range edits {
		_, hash := r.edit(ws)
		r.waitApplied(hash)
		time.Sleep(*churnSpacing)
	}
	stop()
	wg.Wait()
	samples := s.stop()
	end := r.procs()
	cur, _ := end.Current()
	initial, _ := start.Current()
	newWorkers := len(samples.workers)
	if _, ok := samples.workers[initial.PID]; ok {
		newWorkers--
	}
	st := r.waitStatus(func(*agent.Status) bool { return true })
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(end.Master.Reloads-start.Master.Reloads), "reloads")
	b.ReportMetric(float64(newWorkers), "new-workers")
	b.ReportMetric(float64(counts.failedConnects.Load()), "failed-connects")
	b.ReportMetric(float64(counts.streamsCut.Load()), "streams-cut")
	b.ReportMetric(float64(counts.shortCut.Load()), "short-cut")
	b.ReportMetric(float64(samples.maxOld), "max-old-workers")
	b.ReportMetric(float64(samples.maxRSS)/(1<<20), "max-rss-MiB")
	b.Logf("%s path: %d edits (%d runtime updates, %d reloads by the agent), %d short connections ok, %d failed before an answer, %d cut after one; "+
		"%d streams opened, %d cut; worker %d -> %d, %d new workers, at most %d old workers at once; HAProxy RSS at most %.1f MiB",
		path, len(edits), st.Counts.RuntimeUpdates, st.Counts.Reloads, counts.shortOK.Load(), counts.failedConnects.Load(), counts.shortCut.Load(),
		counts.streamsOpened.Load(), counts.streamsCut.Load(), initial.PID, cur.PID, newWorkers, samples.maxOld, float64(samples.maxRSS)/(1<<20))
}

// churnPlan makes n server edits of the workers on pool addresses 2 to 7,
// each from the one before, deterministic: a worker added or removed (two
// or more always stay), moved to a free address, re-weighted, drained or
// undrained.
func churnPlan(r *rig, n int) [][]agenttest.Server {
	rng := rand.New(rand.NewPCG(14, 100))
	type w struct {
		addr, weight int
		drain        bool
	}
	cur := map[string]*w{"w2": {addr: 2, weight: 1}, "w3": {addr: 3, weight: 1}, "w4": {addr: 4, weight: 1}}
	free := func() int {
		used := map[int]bool{}
		for _, x := range cur {
			used[x.addr] = true
		}
		for _, a := range rng.Perm(poolSize - 2) {
			if !used[a+2] {
				return a + 2
			}
		}
		return -1
	}
	names := func() []string {
		var out []string
		for i := 2; i < poolSize+2; i++ {
			if _, ok := cur["w"+strconv.Itoa(i)]; ok {
				out = append(out, "w"+strconv.Itoa(i))
			}
		}
		return out
	}
	var plan [][]agenttest.Server
	for len(plan) < n {
		present := names()
		pick := present[rng.IntN(len(present))]
		switch rng.IntN(5) {
		case 0: // add
			if a := free(); a >= 0 {
				for i := 2; i < poolSize+2; i++ {
					if _, ok := cur["w"+strconv.Itoa(i)]; !ok {
						cur["w"+strconv.Itoa(i)] = &w{addr: a, weight: 1}
						break
					}
				}
			}
		case 1: // remove
			if len(present) > 2 {
				delete(cur, pick)
			}
		case 2: // re-address
			if a := free(); a >= 0 {
				cur[pick].addr = a
			}
		case 3: // re-weight
			cur[pick].weight = 1 + rng.IntN(4)
		case 4: // drain or undrain, keeping one undrained
			undrained := 0
			for _, x := range cur {
				if !x.drain {
					undrained++
				}
			}
			if cur[pick].drain || undrained > 1 {
				cur[pick].drain = !cur[pick].drain
			}
		}
		var ws []agenttest.Server
		for _, name := range names() {
			x := cur[name]
			s := r.worker(name, x.addr)
			s.Weight, s.Drain = agenttest.Weight(x.weight), x.drain
			ws = append(ws, s)
		}
		if len(plan) > 0 && servers(plan[len(plan)-1]) == servers(ws) {
			continue // nothing HAProxy runs changes: draw again
		}
		plan = append(plan, ws)
	}
	return plan
}

// servers is what haproxy.cfg makes of workers: names, addresses, weights.
func servers(ws []agenttest.Server) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "%s@%s/%d ", w.Name, w.Address, w.HAProxyWeight())
	}
	return b.String()
}

// shortLoop makes short connections through ingress HTTP until ctx ends:
// a request, then the backend's greeting and the echo, then close.
func shortLoop(ctx context.Context, addr string, c *churnCounts) {
	msg := []byte("GET / HTTP/1.0\r\n\r\n")
	for ctx.Err() == nil {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			c.failedConnects.Add(1)
			continue
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, werr := conn.Write(msg)
		_ = conn.(*net.TCPConn).CloseWrite()
		got, rerr := io.ReadAll(conn)
		conn.Close()
		switch greeting, echo, _ := bytes.Cut(got, []byte("\n")); {
		case werr != nil || len(greeting) == 0:
			c.failedConnects.Add(1)
		case rerr != nil || !bytes.Equal(echo, msg):
			c.shortCut.Add(1)
		default:
			c.shortOK.Add(1)
		}
	}
}

// streamLoop holds a stream through the API frontend (a ClientHello first,
// as the frontend wants), pinging every 100 ms, until ctx ends (forever)
// or for 2 to 20 s, then opens another. A stream that breaks before the
// client closes it is cut.
func streamLoop(ctx context.Context, addr string, forever bool, c *churnCounts) {
	hello, err := haproxytest.ClientHello()
	if err != nil {
		panic(err)
	}
	for ctx.Err() == nil {
		life := time.Duration(2+rand.IntN(18)) * time.Second
		if forever {
			life = time.Hour
		}
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			c.failedConnects.Add(1)
			continue
		}
		c.streamsOpened.Add(1)
		if !holdStream(ctx, conn, hello, life) {
			c.streamsCut.Add(1)
		}
		conn.Close()
	}
}

// holdStream runs one stream for life or until ctx ends; false when it
// broke first.
func holdStream(ctx context.Context, conn net.Conn, hello []byte, life time.Duration) bool {
	rd := bufio.NewReader(conn)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(hello); err != nil {
		return false
	}
	if _, err := rd.ReadString('\n'); err != nil { // the greeting
		return false
	}
	if _, err := io.ReadFull(rd, make([]byte, len(hello))); err != nil {
		return false
	}
	end := time.Now().Add(life)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return true
		case <-tick.C:
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, "ping\n"); err != nil {
			return false
		}
		if line, err := rd.ReadString('\n'); err != nil || line != "ping\n" {
			return false
		}
	}
	return true
}

// sampler watches HAProxy's processes every 100 ms: the worker PIDs seen,
// the most old workers at once and the highest total RSS.
type sampler struct {
	r      *rig
	done   chan struct{}
	result chan samples
}

type samples struct {
	workers map[int]bool
	maxOld  int
	maxRSS  int64 // bytes
}

func startSampler(r *rig) *sampler {
	s := &sampler{r: r, done: make(chan struct{}), result: make(chan samples, 1)}
	go func() {
		out := samples{workers: map[int]bool{}}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				s.result <- out
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			p, err := r.in.Master.ShowProc(ctx)
			cancel()
			if err != nil {
				continue
			}
			out.maxOld = max(out.maxOld, len(p.OldWorkers))
			rss := rssOf(r.in.PID)
			for _, w := range append(p.Workers, p.OldWorkers...) {
				out.workers[w.PID] = true
				rss += rssOf(w.PID)
			}
			out.maxRSS = max(out.maxRSS, rss)
		}
	}()
	return s
}

func (s *sampler) stop() samples { close(s.done); return <-s.result }

// rssOf is a process's resident set size (VmRSS), 0 when it is gone.
func rssOf(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

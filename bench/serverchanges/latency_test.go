package serverchanges

import (
	"bufio"
	"flag"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/agent/agenttest"
)

var (
	spacing = flag.Duration("spacing", agent.DefaultMinReloadInterval+100*time.Millisecond,
		"pause between two edits of BenchmarkEditLatency (the reload path reloads at most once per second)")
	pollPause = flag.Duration("poll", 500*time.Microsecond, "pause between two connections while waiting for the new route")
)

// BenchmarkEditLatency makes b.N server edits (-benchtime 50x for 50),
// each moving ingress HTTP from one worker to another, and reports their
// latency from the end of the quiet window (the agent's reconcile start,
// lastReconcile.at in its status) to the first connection routed by the
// new set: p50 and p95, once with the runtime path, once with the reload
// path. The quiet window (from the write of state.yaml to the reconcile
// start: the agent's debounce) is reported apart, as quiet-ms, and so are
// the two parts of the latency that the status file times: haproxy -c
// (check-p50-ms) and the runtime change or the reload (apply-p50-ms).
func BenchmarkEditLatency(b *testing.B) {
	for _, path := range []string{pathRuntime, pathReload} {
		b.Run("path="+path, func(b *testing.B) {
			w := func(r *rig, i int) agenttest.Server { return r.worker([]string{"w0", "w1"}[i%2], 2+i%2) }
			label := func(i int) string { return []string{"a2", "a3"}[i%2] }
			r := startRig(b, rigConfig{path: path, hardStopAfter: "15m"}, func(r *rig) []agenttest.Server { return []agenttest.Server{w(r, 0)} })
			waitLabel(b, r.ingressHTTP(), label(0))
			var fromQuiet, quiet, total, check, apply []time.Duration
			edit := 0
			for b.Loop() {
				time.Sleep(*spacing)
				edit++
				written, hash := r.edit([]agenttest.Server{w(r, edit)})
				routed := waitLabel(b, r.ingressHTTP(), label(edit))
				st := r.waitApplied(hash)
				if how := st.Targets[0].How; how != path {
					b.Fatalf("edit %d applied by %s (%s), want %s", edit, how, st.Targets[0].ReloadReason, path)
				}
				fromQuiet = append(fromQuiet, routed.Sub(st.Last.At))
				quiet = append(quiet, st.Last.At.Sub(written))
				total = append(total, routed.Sub(written))
				check = append(check, seconds(st.Last.CheckSeconds))
				apply = append(apply, seconds(st.Last.RuntimeSeconds+st.Last.ReloadSeconds))
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(ms(percentile(fromQuiet, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(fromQuiet, 95)), "p95-ms")
			b.ReportMetric(ms(percentile(quiet, 50)), "quiet-ms")
			b.ReportMetric(ms(percentile(total, 50)), "total-p50-ms")
			b.ReportMetric(ms(percentile(check, 50)), "check-p50-ms")
			b.ReportMetric(ms(percentile(apply, 50)), "apply-p50-ms")
			b.Logf("%s path, %d edits: from the end of the quiet window p50 %s p95 %s max %s; quiet window p50 %s; write to routed p50 %s",
				path, len(fromQuiet), percentile(fromQuiet, 50).Round(time.Microsecond*100), percentile(fromQuiet, 95).Round(time.Microsecond*100),
				percentile(fromQuiet, 100).Round(time.Microsecond*100), percentile(quiet, 50).Round(time.Millisecond), percentile(total, 50).Round(time.Millisecond))
		})
	}
}

// waitLabel connects through HAProxy at addr until a backend greets with
// want, and returns when that connection was answered.
func waitLabel(b *testing.B, addr, want string) time.Time {
	b.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		if got, err := askLabel(addr); err == nil && got == want {
			return time.Now()
		}
		time.Sleep(*pollPause)
	}
	b.Fatalf("haproxy did not route to %s within %s", want, waitTimeout)
	return time.Time{}
}

// askLabel makes one short connection through HAProxy (bytes first, as
// the ingress HTTP frontend wants) and returns the backend's greeting.
func askLabel(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		return "", err
	}
	_ = c.(*net.TCPConn).CloseWrite()
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// percentile is the nearest-rank percentile p of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

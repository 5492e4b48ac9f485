package serverplan_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
	"github.com/hakgen/hakgen/state"
)

// BenchmarkDecide plans one re-addressed worker (in both ingress
// backends) for 3 control planes and 10 to 5000 workers: the cost the
// agent adds to each reconcile.
func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 5000} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			c := defaultCluster()
			c.workers = make([]state.Server, n)
			for i := range c.workers {
				c.workers[i] = state.Server{Name: fmt.Sprintf("w%d", i+1), Address: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}
			}
			old := []byte(c.render(b))
			c.workers[n/2].Address = "10.9.9.9"
			next := []byte(c.render(b))
			b.SetBytes(int64(len(next)))
			b.ReportAllocs()
			for b.Loop() {
				if d := serverplan.Decide(old, next); d.Kind != serverplan.ServersOnly {
					b.Fatalf("decision %v: %s", d.Kind, d.Reason)
				}
			}
		})
	}
}

// BenchmarkApply applies one server change end to end to a real HAProxy
// (the host's) running the production haproxy.cfg: pin the current
// worker, check the backend, send the commands, check again. Each
// iteration undoes the previous one. Besides the mean (ns/op) it reports
// the median and 95th percentile of the iterations (p50-ns, p95-ns).
func BenchmarkApply(b *testing.B) {
	for _, c := range []struct {
		name   string
		a, alt []cp
	}{
		{"weight", initial, []cp{{"cp1", 0, 1}, {"cp2", 1, 2}, {"cp3", 2, 1}}},
		{"address", initial, []cp{{"cp1", 0, 1}, {"cp2", 4, 1}, {"cp3", 2, 1}}},
		{"add-remove", initial, []cp{{"cp1", 0, 1}, {"cp2", 1, 1}, {"cp3", 2, 1}, {"cp4", 3, 1}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			l := newLab(b, haproxytest.Host(b), c.a...)
			cfgA, cfgB := l.render(c.a...), l.render(c.alt...)
			plans := [2]serverplan.Plan{serverplan.Decide(cfgA, cfgB).Plan, serverplan.Decide(cfgB, cfgA).Plan}
			ctx := testContext(b)
			ex := serverplan.Executor{}
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				w := l.worker(ctx)
				if err := ex.Apply(ctx, w, plans[len(took)%2]); err != nil {
					b.Fatalf("iteration %d: %v", len(took), err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2]), "p50-ns")
			b.ReportMetric(float64(took[len(took)*95/100]), "p95-ns")
		})
	}
}

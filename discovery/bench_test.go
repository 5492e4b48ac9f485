package discovery

import (
	"fmt"
	"testing"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/state"
)

// BenchmarkComplete merges n discovered workers into a state with three
// static control planes: the work Complete adds to every reconcile (the
// merged state is validated again).
func BenchmarkComplete(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			s, _, err := state.Parse("state.yaml", []byte("controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\n  - {name: cp2, address: 10.0.0.12}\n"+
				"  - {name: cp3, address: 10.0.0.13}\ndiscovery: {hcloud: {network: k8s, workers: role=worker}}\n"))
			if err != nil {
				b.Fatal(err)
			}
			p := New(Config{}, zap.NewNop())
			for i := range n {
				p.set.Workers = append(p.set.Workers, Server{Name: fmt.Sprintf("w%d", i), Address: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), ID: int64(i)})
			}
			for b.Loop() {
				if _, err := p.Complete(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPoll polls the fake API for n labelled workers, pages of 50,
// through hcloud-go on loopback: the poll's own cost, without the API's
// latency.
func BenchmarkPoll(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			f := hetznertest.New(b)
			f.AddNetwork(network, "k8s", "10.0.0.0/8")
			for i := range n {
				f.PutServer(hetznertest.ServerSpec{ID: int64(5000 + i), Name: fmt.Sprintf("w%d", i), Labels: map[string]string{"role": "worker"},
					Private: map[int64]string{network: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}})
			}
			b.Setenv("HCLOUD_TOKEN", "bench")
			s, _, err := state.Parse("state.yaml", []byte("controlPlanes: [{name: cp1, address: 10.0.0.11}]\ndiscovery: {hcloud: {network: \"7\", workers: role=worker}}\n"))
			if err != nil {
				b.Fatal(err)
			}
			p := New(Config{Connect: HCloud(f.APIEndpoint(), "bench", zap.NewNop())}, zap.NewNop())
			if _, err := p.Complete(s); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				p.pollOnce(b.Context())
			}
			if st := p.Status(); st.Failures > 0 || len(st.Servers.Workers) != n {
				b.Fatalf("status %+v", st.LastPoll)
			}
			b.ReportMetric(float64(p.Status().RequestsPerPoll), "requests/poll")
		})
	}
}

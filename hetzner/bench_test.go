package hetzner_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// benchLatency is added to every answer of the fake, roughly a round trip
// from a Hetzner server to the API.
const benchLatency = 30 * time.Millisecond

// BenchmarkAssign measures a failover with the production settings against
// a fake API that takes 30 ms per request: the time until the API accepted
// the assign, and the time until it was verified.
func BenchmarkAssign(b *testing.B) {
	f := hetznertest.New(b)
	f.SetLatency(hetznertest.AnyEndpoint, benchLatency)
	c, err := hetzner.NewClient(hetzner.Config{Endpoint: f.APIEndpoint(), Token: "bench"}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	var accepted, total time.Duration
	var requests int
	for b.Loop() {
		f.Grab(fip, peer)
		res, err := c.Assign(context.Background(), fip, me)
		if err != nil {
			b.Fatal(err)
		}
		accepted += res.Accepted
		total += res.Total
		requests += res.Requests
	}
	report(b, accepted, total, requests)
}

// BenchmarkHcloudCLIAssign measures `hcloud floating-ip assign` against the
// same fake, the usual way to move a Floating IP: accept is the time from
// starting the CLI until its assign request reached the fake.
func BenchmarkHcloudCLIAssign(b *testing.B) {
	bin := tooltest.Need(b, "hcloud")
	f := hetznertest.New(b)
	f.SetLatency(hetznertest.AnyEndpoint, benchLatency)
	home := b.TempDir()
	var accepted, total time.Duration
	var requests int
	for b.Loop() {
		f.Grab(fip, peer)
		f.ResetLog()
		cmd := exec.Command(bin, "floating-ip", "assign", "4711", "1001")
		cmd.Env = []string{"HCLOUD_ENDPOINT=" + f.APIEndpoint(), "HCLOUD_TOKEN=bench", "HOME=" + home}
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		total += time.Since(start)
		for _, r := range f.Requests() {
			if r.Endpoint == hetznertest.Assign {
				accepted += r.Time.Sub(start) + benchLatency
			}
		}
		requests += len(f.Requests())
	}
	report(b, accepted, total, requests)
}

func report(b *testing.B, accepted, total time.Duration, requests int) {
	n := float64(b.N)
	b.ReportMetric(float64(accepted.Milliseconds())/n, "ms-to-accept/op")
	b.ReportMetric(float64(total.Milliseconds())/n, "ms-total/op")
	b.ReportMetric(float64(requests)/n, "requests/op")
}

package failover_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// benchLatency is added to every answer of the fake, roughly a round trip
// from a Hetzner server to the API; benchPolls is how many polls of an
// action still see it running (about 150 ms at the 50 ms poll interval).
const (
	benchLatency = 30 * time.Millisecond
	benchPolls   = 2
)

// BenchmarkMasterRun measures a MASTER run with the production client
// settings against a fake API that takes 30 ms per request and runs each
// action for two polls: one Floating IP, two, two and the private VIP's
// route, and the route alone; "one-after-another" moves the same three
// addresses in turn, as a run without parallel moves would. Reported per
// run: ms until every address was verified here, and API requests.
func BenchmarkMasterRun(b *testing.B) {
	vip := netip.MustParsePrefix("10.0.255.1/32")
	gw := netip.MustParseAddr(hetznertest.ThisServerPrivateIP)
	for _, c := range []struct {
		name   string
		fips   []int64
		route  bool
		serial bool
	}{
		{"one-floating-ip", []int64{fip}, false, false},
		{"two-floating-ips", []int64{fip, fip6}, false, false},
		{"two-floating-ips-and-the-vip", []int64{fip, fip6}, true, false},
		{"the-vip-alone", nil, true, false},
		{"one-after-another", []int64{fip, fip6}, true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := hetznertest.New(b)
			f.AddQuickStartNetwork()
			f.SetLatency(hetznertest.AnyEndpoint, benchLatency)
			f.PlanActions(hetznertest.ActionPlan{RunningPolls: benchPolls})
			client, err := hetzner.NewClient(hetzner.Config{Endpoint: f.APIEndpoint(), Token: "bench"}, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			var targets []failover.Target
			for _, id := range c.fips {
				targets = append(targets, failover.FloatingIPTarget(id, client))
			}
			if c.route {
				targets = append(targets, failover.Target{Key: failover.PrivateVIPKey, Name: "private VIP", Moved: "routed",
					Move: func(ctx context.Context, _ int64) (hetzner.Result, error) {
						return client.MoveRoute(ctx, hetznertest.NetworkName, vip, gw)
					}})
			}
			if c.serial {
				parts := targets
				targets = []failover.Target{{Key: "all", Name: "all, in turn", Moved: "moved",
					Move: func(ctx context.Context, id int64) (hetzner.Result, error) {
						var sum hetzner.Result
						for _, t := range parts {
							r, err := t.Move(ctx, id)
							if err != nil {
								return sum, err
							}
							sum.Requests += r.Requests
						}
						return sum, nil
					}}}
			}
			dir := b.TempDir()
			n := failover.NewNotifier(failover.Config{StateDir: dir, ServerID: failover.StaticServerID(me),
				Targets: func(context.Context, failover.Event) ([]failover.Target, error) { return targets, nil }}, nil, zap.NewNop())
			var total time.Duration
			requests := 0
			for b.Loop() {
				for _, id := range c.fips {
					f.Grab(id, peer)
				}
				f.SetRoute(hetznertest.NetworkID, vip.String(), hetznertest.OtherServerPrivateIP)
				f.ResetLog()
				start := time.Now()
				if err := n.Notify(context.Background(), []string{"MASTER"}); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				requests += len(f.Requests())
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-total/op")
			b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
		})
	}
}

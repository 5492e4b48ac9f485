package lab_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hakgen/hakgen/lab"
)

// drillAgrees bounds the difference between drill's total and the outage
// the lab's client saw (issue 13's 200 ms).
const drillAgrees = 200 * time.Millisecond

// drillReport is the part of `hakgen-agent drill --json` the lab reads.
type drillReport struct {
	From        string    `json:"from"`
	To          string    `json:"to"`
	StartedAt   time.Time `json:"startedAt"`
	DetectionMs float64   `json:"detectionMs"`
	AssignMs    float64   `json:"assignMs"`
	RouteMs     float64   `json:"routeMs"`
	TotalMs     float64   `json:"totalMs"`
	APIRequests int       `json:"apiRequests"`
}

func (r drillReport) total() time.Duration {
	return time.Duration(r.TotalMs * float64(time.Millisecond))
}

// drill: the operator's rehearsal, step 9 of the quick start. `hakgen-agent
// drill --json` on lb1, the MASTER, moves the Floating IP to lb2; its total
// is within drillAgrees of the outage the lab's client saw from the moment
// drill set its flag. Then `drill --back` on lb2 returns it to lb1, measured
// the same way. The figure is the first drill's total.
func drill(t *testing.T, l *lab.Lab) lab.Run {
	lb1, lb2 := l.LBs[0], l.LBs[1]
	there, outThere := runDrill(t, l, lb1, lb2)
	back, outBack := runDrill(t, l, lb2, lb1, "--back")
	run := lab.Run{Figure: &lab.Figure{Name: "drill's total", Value: there.TotalMs, Unit: "ms"}}
	if outThere.Recovered && outBack.Recovered {
		run.More = []lab.Figure{
			{Name: "client's outage", Value: ms(outThere.Gap), Unit: "ms"},
			{Name: "--back total", Value: back.TotalMs, Unit: "ms"},
			{Name: "client's", Value: ms(outBack.Gap), Unit: "ms"},
		}
	}
	return run
}

// runDrill runs drill with args on from, as an operator does, and checks
// that the Floating IP ended on to and that drill's total agrees with
// the client's outage.
func runDrill(t *testing.T, l *lab.Lab, from, to *lab.LB, args ...string) (drillReport, lab.Outage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := l.APIProber()
	if err := p.AwaitClean(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	argv := append([]string{lab.AgentBin, "drill", "--json"}, args...)
	out, stderr, err := from.RunSplit(ctx, l.APIEnv(), argv...)
	if err != nil {
		p.Stop()
		t.Fatalf("%s: %v\nstdout:\n%s", from.Name, err, out)
	}
	var r drillReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		p.Stop()
		t.Fatalf("%s: drill's output is not its JSON: %v\n%s\nstderr:\n%s", from.Name, err, out, stderr)
	}
	if err := p.AwaitClean(ctx, settleAfterDrill); err != nil {
		t.Error(err)
	}
	attempts := p.Stop()
	o, err := lab.MeasureOutage(attempts, r.StartedAt, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drill %v on %s: detection %.0f ms, assign %.0f ms, route %.0f ms, total %.0f ms (%d API requests); the client: %s",
		args, from.Name, r.DetectionMs, r.AssignMs, r.RouteMs, r.TotalMs, r.APIRequests, o)
	if r.From != from.Name || r.To != to.Name {
		t.Errorf("drill reports a move from %s to %s, want %s to %s", r.From, r.To, from.Name, to.Name)
	}
	if got := l.API.Owner(l.Plan.FloatingIPID); got != to.Plan.ServerID {
		t.Errorf("after the drill the Floating IP is with server %d, want %s's %d", got, to.Name, to.Plan.ServerID)
	}
	if via, err := l.FloatingIPRoute(ctx); err != nil || via != to.Plan.Public {
		t.Errorf("after the drill the Floating IP is routed via %s (%v), want %s's %s", via, err, to.Name, to.Plan.Public)
	}
	if !o.Recovered {
		t.Errorf("the client did not get through again after the drill: %s", o)
		return r, o
	}
	if o.Failed == 0 {
		t.Errorf("no connection of the client failed during the drill: nothing was measured")
	}
	if diff := (r.total() - o.Gap).Abs(); diff > drillAgrees {
		t.Errorf("drill says %.0f ms, the client saw %s: %s apart, want at most %s", r.TotalMs, o.Gap.Round(time.Millisecond), diff.Round(time.Millisecond), drillAgrees)
	}
	return r, o
}

// settleAfterDrill is how long the client must succeed after a drill
// before its outage is measured.
const settleAfterDrill = 2 * time.Second

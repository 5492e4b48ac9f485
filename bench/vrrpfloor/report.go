package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hakgen/hakgen/state"
)

// runInfo is everything one invocation measured, as written with -json.
type runInfo struct {
	Start       time.Time `json:"start"`
	CPUs        int       `json:"cpus"`
	UptimeStart string    `json:"uptimeStart"`
	UptimeEnd   string    `json:"uptimeEnd"`
	Idle        string    `json:"idle"`
	Returns     int       `json:"returns"`
	Failovers   int       `json:"failovers"`
	Results     []*result `json:"results"`
}

// lowestPriority is the priority hakgen renders for the second load
// balancer; its master-down timer is the longer of the pair's.
const lowestPriority = 190

// report prints one line per advert interval, then the errors.
func report(w io.Writer, run runInfo) {
	fmt.Fprintf(w, "keepalived VRRP at each advert interval, %d CPUs; idle %s, %d nopreempt rounds, %d failovers per interval\n",
		run.CPUs, run.Idle, run.Returns, run.Failovers)
	fmt.Fprintf(w, "load at start: %s\nload at end:   %s\n\n", run.UptimeStart, run.UptimeEnd)
	fmt.Fprintf(w, "%-7s %-7s %-9s %-9s %-9s %-9s %-6s %-24s %-13s %-20s %s\n",
		"advert", "elected", "unforced", "other", "reassert", "took", "extra", "links down -> VIP (ms)", "theory (ms)", "SIGTERM -> MASTER", "load1")
	fmt.Fprintf(w, "%-7s %-7s %-9s %-9s %-9s %-9s %-6s %-24s %-13s %-20s %s\n",
		"", "", "MASTER", "idle", "idle", "back", "MASTER", "min/median/max", "2-3 adv+skew", "min/median/max (ms)", "min-max")
	for _, r := range run.Results {
		fmt.Fprintf(w, "%-7s %-7s %-9s %-9s %-9s %-9s %-6d %-24s %-13s %-20s %.2f-%.2f\n",
			r.AdvertInterval, yesNo(r.Elected), idleCount(r, master), idleOther(r), idleCount(r, reassert),
			tookBack(r), extraMaster(r), spread(vipTimes(r)), theory(r.AdvertInterval), spread(stopTimes(r)), r.Load.Min, r.Load.Max)
	}
	fmt.Fprintln(w, "\nunforced/other/reassert: per node (first/second) while idle; took back: returns of a stopped or")
	fmt.Fprintln(w, "cut-off MASTER that took the role back despite nopreempt; extra MASTER: transitions beyond the expected")
	fmt.Fprintf(w, "takeover during those; theory: [2, 3] x advert + (256-%d)/256 x advert.\n", lowestPriority)
	for _, r := range run.Results {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "\n%s: %s\n", r.AdvertInterval, e)
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// idleCount is "first/second" of one idle count, "-" without an idle phase.
func idleCount(r *result, what string) string {
	if r.Idle == nil {
		return "-"
	}
	m := map[string]map[string]int{master: r.Idle.Master, reassert: r.Idle.Reassert}[what]
	return perNode(r, func(node string) int { return m[node] })
}

func idleOther(r *result) string {
	if r.Idle == nil {
		return "-"
	}
	return perNode(r, func(node string) int { return r.Idle.Backup[node] + r.Idle.Fault[node] })
}

// perNode formats f for each node, in the order of the state.
func perNode(r *result, f func(string) int) string {
	var parts []string
	for _, n := range nodeNames(r) {
		parts = append(parts, fmt.Sprint(f(n)))
	}
	return strings.Join(parts, "/")
}

func nodeNames(r *result) []string {
	names := make([]string, 0, len(r.Idle.Master))
	for n := range r.Idle.Master {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func tookBack(r *result) string {
	n, of := 0, 0
	for _, x := range r.Returns {
		of++
		if x.TookBack {
			n++
		}
	}
	for _, x := range r.Failovers {
		of++
		if x.TookBack {
			n++
		}
	}
	return fmt.Sprintf("%d of %d", n, of)
}

func extraMaster(r *result) int {
	n := 0
	for _, x := range r.Returns {
		n += x.ExtraMaster
	}
	for _, x := range r.Failovers {
		n += x.ExtraMaster
	}
	return n
}

func vipTimes(r *result) []float64 {
	var v []float64
	for _, f := range r.Failovers {
		if f.VIPMS > 0 {
			v = append(v, f.VIPMS)
		}
	}
	return v
}

func stopTimes(r *result) []float64 {
	var v []float64
	for _, x := range r.Returns {
		if x.TakeoverMS > 0 {
			v = append(v, x.TakeoverMS)
		}
	}
	return v
}

// spread is "min/median/max" of v, "-" when empty.
func spread(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return fmt.Sprintf("%.0f/%.0f/%.0f", s[0], median(s), s[len(s)-1])
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// theory is the range of the takeover after a silent MASTER: the last
// advert came between 0 and one interval before the silence.
func theory(adv string) string {
	d, err := state.ParseDuration(adv)
	if err != nil {
		return "-"
	}
	a := float64(time.Duration(d).Microseconds()) / 1000
	skew := float64(256-lowestPriority) / 256 * a
	return fmt.Sprintf("%.0f-%.0f", 2*a+skew, 3*a+skew)
}

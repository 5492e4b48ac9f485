package main

import (
	"fmt"
	"io"
	"time"
)

// report prints the medians of every tool and how many times faster
// hakgen-agent (server ID in the state) is than the hcloud CLI.
func report(w io.Writer, tools []tool, samples [][]sample, runs int, latency time.Duration, runningPolls int) {
	fmt.Fprintf(w, "Floating IP failover against hetznertest: %s added per request, %d running poll(s) per action, median of %d runs\n\n",
		latency, runningPolls, runs)
	fmt.Fprintf(w, "%-54s %14s %12s %9s\n", "tool", "assign after", "total", "requests")
	byName := map[string]summary{}
	for i, t := range tools {
		s := summarize(samples[i])
		byName[t.name] = s
		fmt.Fprintf(w, "%-54s %14s %12s %9.1f\n", t.name, ms(s.toAssign), ms(s.total), s.requests)
	}
	a, h := byName[agentTool], byName[hcloudTool]
	fmt.Fprintf(w, "\nhcloud CLI / hakgen-agent: assign arrives %.1fx later, total %.1fx longer, %.1fx the requests\n",
		ratio(h.toAssign, a.toAssign), ratio(h.total, a.total), h.requests/a.requests)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Command failover compares two ways of moving a Hetzner Floating IP to
// this server, against one fake Hetzner API (hetzner/hetznertest) that
// adds a latency to every request, as the real API's round trip does:
//
//   - hakgen-agent notify MASTER, with the server ID in the state, and
//     with it left to the metadata service (cache emptied before each run);
//   - Debian's hcloud CLI: hcloud floating-ip assign ID SERVER.
//
// For each it reports the time from starting the process until the assign
// request reached the API, the time until the process exited, and the
// number of requests; medians over -runs rounds, run in turn. See
// bench/failover.sh, which builds hakgen-agent and runs this.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

const benchToken = "bench-token"

func main() {
	agent := flag.String("agent", "", "hakgen-agent `binary` to measure (required)")
	hcloud := flag.String("hcloud", "/usr/bin/hcloud", "hcloud CLI `binary`")
	runs := flag.Int("runs", 10, "rounds; each runs every tool once")
	latency := flag.Duration("latency", 30*time.Millisecond, "added to every answer of the fake API")
	runningPolls := flag.Int("running-polls", 0, "action polls that still see \"running\"")
	flag.Parse()
	if *agent == "" || *runs < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := bench(ctx, *agent, *hcloud, *runs, *latency, *runningPolls); err != nil {
		fmt.Fprintln(os.Stderr, "failover bench:", err)
		os.Exit(1)
	}
}

func bench(ctx context.Context, agent, hcloud string, runs int, latency time.Duration, runningPolls int) error {
	f, stopFake := startFake()
	defer stopFake()
	f.RequireToken(benchToken)
	f.SetLatency(hetznertest.AnyEndpoint, latency)
	f.PlanActions(hetznertest.ActionPlan{RunningPolls: runningPolls})
	dir, err := os.MkdirTemp("", "hakgen-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tools, err := setup(dir, agent, hcloud, f)
	if err != nil {
		return err
	}
	samples := make([][]sample, len(tools))
	for range runs {
		for i, t := range tools {
			if t.name == metadataTool {
				_ = os.Remove(filepath.Join(dir, "run-metadata", "server-id")) // cold cache: ask the metadata service
			}
			s, err := measure(ctx, f, t)
			if err != nil {
				return err
			}
			samples[i] = append(samples[i], s)
		}
	}
	report(os.Stdout, tools, samples, runs, latency, runningPolls)
	return nil
}

package lab_test

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/lab"
)

var (
	runs        = flag.Int("lab.runs", 1, "run each failover scenario this many times (make lab: 3)")
	resultsFile = flag.String("lab.results", "", "write the results as JSON to this `FILE`")
	logDir      = flag.String("lab.logs", "", "write every lab's journals under this `DIR`")
	long        = flag.Bool("lab.long", false, "run the long scenarios at their full length (make lab); CI runs them shorter")
)

// results collects every scenario run of this test binary.
var results lab.Results

// TestMain prints the table of the scenarios that ran (and writes it to
// -lab.results) after the tests.
func TestMain(m *testing.M) {
	flag.Parse()
	// Interrupted, the test binary exits without its cleanups: tear the
	// labs down first.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "lab: %v: tearing the labs down\n", s)
		lab.TearDownAll()
		os.Exit(1)
	}()
	code := m.Run()
	if !results.Empty() {
		fmt.Println("\nThe HA lab (" + time.Now().UTC().Format("2006-01-02 15:04 UTC") + "):")
		if err := results.WriteTable(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		if *resultsFile != "" {
			if err := results.WriteJSON(*resultsFile); err != nil {
				fmt.Fprintln(os.Stderr, "writing the lab's results:", err)
				code = 1
			} else {
				fmt.Println("written to", *resultsFile)
			}
		}
	}
	os.Exit(code)
}

// scenario is one subtest of TestLab.
type scenario struct {
	name string
	// seed also runs the scenario against the seed's way.
	seed bool
	// failover scenarios run -lab.runs times.
	failover bool
	opts     lab.Options // Way is set per run
	// optsFunc, when set, gives opts once the flags are parsed.
	optsFunc func() lab.Options
	run      func(t *testing.T, l *lab.Lab) lab.Run
}

// scenarios are the lab's scenarios, in the order they run. Each builds a
// lab of its own, so each can run alone: make lab SCENARIO=name.
var scenarios = []scenario{
	{name: "passthrough", run: passthrough},
	{name: "haproxy-kill", seed: true, failover: true, run: haproxyKill},
	{name: "node-loss", seed: true, failover: true, run: nodeLoss},
	{name: "master-returns", failover: true, run: masterReturns},
	{name: "readyz-503", run: readyz503},
	{name: "state-edit", run: stateEdit},
	{name: "discovery", run: discoveredWorker},
	{name: "api-faults", failover: true, run: apiFaults},
	{name: "healer", failover: true, opts: lab.Options{AgentArgs: []string{"--heal-interval", healInterval.String()}}, run: healer},
	{name: "partition", optsFunc: partitionOpts, run: partition},
	{name: "backends-lost", failover: true, run: backendsLost},
	{name: "cluster-outage", run: clusterOutage},
	{name: "fast-profile", failover: true, opts: fastOpts, run: fastProfile},
	{name: "fast-profile-idle", opts: fastOpts, run: fastProfileIdle},
	{name: "cp-failed", run: cpFailed},
	{name: "flood", run: flood},
	{name: "reload-under-load", run: reloadUnderLoad},
	{name: "drill", failover: true, run: drill},
}

// TestLab runs every scenario in the HA lab: the pair of load balancers
// in network namespaces, with the fake Hetzner API (see package lab). It
// needs root, and fails instead of skipping with HAKGEN_REQUIRE_TOOLS=1.
func TestLab(t *testing.T) {
	kit := lab.NewKit(t, true)
	kit.LogDir = *logDir
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ways := []lab.Way{lab.Hakgen}
			if sc.seed {
				ways = append(ways, lab.Seed)
			}
			n := 1
			if sc.failover {
				n = max(1, *runs)
			}
			for _, way := range ways {
				for range n {
					t.Run(string(way), func(t *testing.T) { runScenario(t, kit, sc, way) })
				}
			}
		})
	}
}

func runScenario(t *testing.T, kit *lab.Kit, sc scenario, way lab.Way) {
	start := time.Now()
	var res lab.Run
	defer func() {
		res.Passed = !t.Failed()
		res.Seconds = time.Since(start).Seconds()
		results.Add(sc.name, way, res)
	}()
	opts := sc.opts
	if sc.optsFunc != nil {
		opts = sc.optsFunc()
	}
	opts.Way = way
	l := kit.New(t, opts)
	t.Logf("lab ready after %s", time.Since(start).Round(time.Millisecond))
	res = sc.run(t, l)
}

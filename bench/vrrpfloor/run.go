package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hakgen/hakgen/state"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the measurement could not be made
	exitUsage = 2
)

// options are the command line of vrrpfloor.
type options struct {
	agent      string
	keepalived string
	state      string
	intervals  []time.Duration
	idle       time.Duration
	returns    int
	failovers  int
	jsonPath   string
	keep       bool
}

const defaultIntervals = "10ms,20ms,50ms,100ms,200ms,300ms,500ms,1s"

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("vrrpfloor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.agent, "agent", "", "hakgen-agent `binary` that renders keepalived.conf and runs its check (required)")
	fs.StringVar(&o.keepalived, "keepalived", "keepalived", "keepalived `binary`")
	fs.StringVar(&o.state, "state", "testdata/quickstart.yaml", "the state `file` to render the pair from (two loadBalancers)")
	intervals := fs.String("intervals", defaultIntervals, "advert intervals to measure, comma-separated (10ms, 1s, ...)")
	fs.DurationVar(&o.idle, "idle", time.Minute, "how long the pair is left alone at each interval")
	fs.IntVar(&o.returns, "returns", 2, "nopreempt rounds at each interval (stop the MASTER, start it again)")
	fs.IntVar(&o.failovers, "failovers", 6, "failover runs at each interval (the MASTER's links down)")
	fs.StringVar(&o.jsonPath, "json", "", "also write every result, with the events, to `file` as JSON")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (configs, notify and keepalived logs)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.agent == "" {
		return o, errors.New("-agent is required")
	}
	if o.idle <= 0 || o.returns < 0 || o.failovers < 0 {
		return o, errors.New("-idle must be positive, -returns and -failovers not negative")
	}
	for _, s := range strings.Split(*intervals, ",") {
		d, err := state.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return o, fmt.Errorf("-intervals: %w", err)
		}
		o.intervals = append(o.intervals, time.Duration(d))
	}
	return o, nil
}

// run is vrrpfloor with its command line and output.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "vrrpfloor:", err)
		}
		return exitUsage
	}
	if err := measureAll(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "vrrpfloor:", err)
		return exitError
	}
	return exitOK
}

func measureAll(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: it creates network and mount namespaces")
	}
	for _, tool := range []*string{&o.keepalived, &o.agent} {
		path, err := exec.LookPath(*tool)
		if err != nil {
			return fmt.Errorf("finding %s: %w", *tool, err)
		}
		if *tool, err = filepath.Abs(path); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "hakgen-vrrpfloor-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(stderr, "vrrpfloor: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	loads := startLoadSampler(ctx, 5*time.Second)
	run := runInfo{Start: time.Now(), CPUs: runtime.NumCPU(), UptimeStart: uptime(), Idle: o.idle.String(), Returns: o.returns, Failovers: o.failovers}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "vrrpfloor: "+format+"\n", args...) }
	logf("%s", run.UptimeStart)
	for _, adv := range o.intervals {
		if ctx.Err() != nil {
			break
		}
		loads.sample()
		res := measureInterval(ctx, o, dir, adv, logf)
		loads.sample()
		res.Load = loads.between(res.Started, time.Now())
		run.Results = append(run.Results, res)
	}
	run.UptimeEnd = uptime()
	logf("%s", run.UptimeEnd)
	report(stdout, run)
	if o.jsonPath != "" {
		data, err := json.MarshalIndent(run, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonPath, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// measureInterval runs every phase at adv on a pair of its own. A phase
// that fails is recorded in the result, and the phases after it that need
// a working pair are skipped.
func measureInterval(ctx context.Context, o options, dir string, adv time.Duration, logf func(string, ...any)) *result {
	res := &result{AdvertInterval: state.Duration(adv).String(), Started: time.Now()}
	fail := func(err error) { res.Errors = append(res.Errors, err.Error()); logf("%s: %v", res.AdvertInterval, err) }
	sub := filepath.Join(dir, res.AdvertInterval)
	if err := os.Mkdir(sub, 0o755); err != nil {
		fail(err)
		return res
	}
	p, err := newPair(ctx, pairSetup{agent: o.agent, keepalived: o.keepalived, state: o.state, dir: sub, adv: adv, suffix: randomSuffix()})
	if err != nil {
		fail(err)
		return res
	}
	defer func() {
		if err := p.close(); err != nil {
			fail(err)
		}
		tl, err := p.timeline()
		if err != nil {
			fail(err)
		}
		res.Events = tl
	}()
	r := &runner{p: p, adv: adv, res: res}
	logf("%s: electing", res.AdvertInterval)
	if err := r.elect(ctx); err != nil {
		fail(err)
		return res
	}
	logf("%s: idle for %s", res.AdvertInterval, o.idle)
	if err := r.idle(ctx, o.idle); err != nil {
		fail(err)
		return res
	}
	for i := range o.returns {
		logf("%s: nopreempt round %d of %d", res.AdvertInterval, i+1, o.returns)
		rr, err := r.returnOnce(ctx)
		res.Returns = append(res.Returns, rr)
		if err != nil {
			fail(err)
			return res
		}
	}
	for i := range o.failovers {
		logf("%s: failover %d of %d", res.AdvertInterval, i+1, o.failovers)
		fr, err := r.failoverOnce(ctx)
		res.Failovers = append(res.Failovers, fr)
		if err != nil {
			fail(err)
			return res
		}
	}
	return res
}

// randomSuffix names the namespaces and links of one pair: 6 hex digits,
// so a link name stays within 15 characters.
func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// uptime is the output of uptime(1), or the error.
func uptime() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "uptime: " + err.Error()
	}
	return strings.TrimSpace(string(out))
}

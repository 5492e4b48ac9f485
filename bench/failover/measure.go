package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// tool is one way of moving the Floating IP: a command line and its
// environment.
type tool struct {
	name string
	argv []string
	env  []string
}

// sample is one measured run of a tool.
type sample struct {
	toAssign time.Duration // from starting the process until the assign request arrived
	total    time.Duration // until the process exited
	requests int           // every request the fake received
	assigns  int
}

// measure moves the Floating IP away, runs t once and reads the fake's
// request log.
func measure(ctx context.Context, f *hetznertest.Fake, t tool) (sample, error) {
	f.Grab(hetznertest.FloatingIPID, hetznertest.OtherServer)
	f.ResetLog()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.argv[0], t.argv[1:]...)
	cmd.Env = t.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	s := sample{total: time.Since(start)}
	if err != nil {
		return s, fmt.Errorf("%s: %w\n%s", t.name, err, out.String())
	}
	if owner := f.Owner(hetznertest.FloatingIPID); owner != hetznertest.ThisServer {
		return s, fmt.Errorf("%s exited 0 but the Floating IP points to %d", t.name, owner)
	}
	for _, r := range f.Requests() {
		s.requests++
		if r.Endpoint == hetznertest.Assign {
			if s.assigns == 0 {
				s.toAssign = r.Time.Sub(start)
			}
			s.assigns++
		}
	}
	if s.assigns == 0 {
		return s, fmt.Errorf("%s sent no assign", t.name)
	}
	return s, nil
}

// summary is the median of each figure over the samples.
type summary struct {
	toAssign, total time.Duration
	requests        float64
}

func summarize(samples []sample) summary {
	pick := func(get func(sample) time.Duration) time.Duration {
		v := make([]time.Duration, len(samples))
		for i, s := range samples {
			v[i] = get(s)
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[len(v)/2]
	}
	n := 0
	for _, s := range samples {
		n += s.requests
	}
	return summary{
		toAssign: pick(func(s sample) time.Duration { return s.toAssign }),
		total:    pick(func(s sample) time.Duration { return s.total }),
		requests: float64(n) / float64(len(samples)),
	}
}

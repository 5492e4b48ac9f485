package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loadRange is the lowest and highest 1-minute load average sampled in a
// window; both 0 when nothing was sampled.
type loadRange struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

type loadSample struct {
	at    time.Time
	load1 float64
}

// loadSampler reads /proc/loadavg at a fixed period until its context
// ends: others use this machine, and a flap under load is to be read
// with the load next to it.
type loadSampler struct {
	mu      sync.Mutex
	samples []loadSample
}

func startLoadSampler(ctx context.Context, every time.Duration) *loadSampler {
	s := &loadSampler{}
	s.sample()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *loadSampler) sample() {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.samples = append(s.samples, loadSample{at: time.Now(), load1: v})
	s.mu.Unlock()
}

// between returns the range of the samples taken from from to to.
func (s *loadSampler) between(from, to time.Time) loadRange {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r loadRange
	seen := false
	for _, x := range s.samples {
		if x.at.Before(from) || x.at.After(to) {
			continue
		}
		if !seen || x.load1 < r.Min {
			r.Min = x.load1
		}
		if !seen || x.load1 > r.Max {
			r.Max = x.load1
		}
		seen = true
	}
	return r
}

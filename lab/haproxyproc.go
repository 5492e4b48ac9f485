package lab

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HAProxySample is what an HAProxy master and its workers hold at one
// moment, read from /proc.
type HAProxySample struct {
	Workers int   // worker processes: the current one and the old ones a reload left
	RSS     int64 // resident memory of the master and every worker, bytes
}

// OldWorkers is the number of old workers: every worker but the current.
func (s HAProxySample) OldWorkers() int { return max(s.Workers-1, 0) }

// SampleHAProxy reads lb's HAProxy process tree.
func (lb *LB) SampleHAProxy() (HAProxySample, error) {
	tree, err := lb.HAProxy.Tree()
	if err != nil {
		return HAProxySample{}, err
	}
	s := HAProxySample{Workers: len(tree) - 1}
	for _, pid := range tree {
		rss, err := residentBytes(pid)
		if err != nil {
			continue // a worker that ended meanwhile
		}
		s.RSS += rss
	}
	return s, nil
}

// HAProxyWatch samples an HAProxy tree at an interval and keeps the
// highest figures.
type HAProxyWatch struct {
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	peak    HAProxySample // the most workers and the most memory, each at its own moment
	samples int
	err     error
}

// WatchHAProxy samples lb's HAProxy every `every` until Stop (at most
// maxProbing).
func (lb *LB) WatchHAProxy(every time.Duration) *HAProxyWatch {
	w := &HAProxyWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		end := time.After(maxProbing)
		for {
			s, err := lb.SampleHAProxy()
			w.mu.Lock()
			if err != nil {
				w.err = err
			} else {
				w.samples++
				w.peak.Workers = max(w.peak.Workers, s.Workers)
				w.peak.RSS = max(w.peak.RSS, s.RSS)
			}
			w.mu.Unlock()
			select {
			case <-tick.C:
			case <-w.stop:
				return
			case <-end:
				return
			}
		}
	}()
	lb.lab.onClose(func() { w.Stop() })
	return w
}

// Stop ends the watch and returns the peaks, with how many samples were
// read and the last error reading one.
func (w *HAProxyWatch) Stop() (peak HAProxySample, samples int, err error) {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak, w.samples, w.err
}

// residentBytes is VmRSS of /proc/PID/status.
func residentBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

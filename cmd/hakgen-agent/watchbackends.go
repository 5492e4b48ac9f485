package main

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// backendsRetry is how often watchBackends tries again to read a state
// that is not usable yet.
const backendsRetry = 5 * time.Second

// watchBackends keeps keepalived's track file hakgen_backends in line with
// failover.BackendsWatch's verdict for this node: "1" while it reaches no
// backend and a peer does, so keepalived resigns MASTER at once. This
// node's and its peers' stats frontends and the hold (haproxy.checks.interval
// plus a margin) come from the state as it is when the agent starts; while
// the state or this node cannot be found yet (a state file missing at
// boot), it tries again every backendsRetry. It does nothing for a state
// without loadBalancers. The returned function, called when the agent
// stops, writes "0": a stopped agent must not hold the node in FAULT.
func watchBackends(ctx context.Context, o runOptions, log *zap.Logger) (stop func()) {
	log = log.Named("watch-backends")
	tf := failover.TrackFile{Path: filepath.Join(o.stateDir, render.BackendsFileName)}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var reported atomic.Bool
	go func() {
		defer close(done)
		w, ok := backendsWatchFor(wctx, o, log)
		if !ok {
			return
		}
		failing := false // the last write failed: it is tried again at every look, logged once
		w.Report = func(fit bool) error {
			reported.Store(true)
			if err := tf.Set(fit); err != nil {
				if !failing {
					log.Warn("cannot tell keepalived whether this node reaches its backends; trying again at every look", zap.Error(err))
				}
				failing = true
				return err
			}
			failing = false
			if fit {
				log.Info("this node reaches backends, or no peer does better", zap.String("track_file", tf.Path))
			} else {
				log.Warn("no public backend has a server up from here while a peer sees one: this node is not fit to be MASTER", zap.String("track_file", tf.Path), zap.Duration("after", w.Hold))
			}
			return nil
		}
		w.Run(wctx)
	}()
	return func() {
		cancel()
		<-done
		if !reported.Load() {
			return
		}
		if err := tf.Set(true); err != nil {
			log.Warn("cannot clear keepalived's track file", zap.Error(err))
		}
	}
}

// backendsWatchFor builds the watch from the state, waiting for a usable
// one; false when ctx ended first or the state names no load balancers.
func backendsWatchFor(ctx context.Context, o runOptions, log *zap.Logger) (failover.BackendsWatch, bool) {
	logged := ""
	for {
		s, err := state.LoadForFailover(o.state)
		if err == nil && len(s.LoadBalancers) == 0 {
			return failover.BackendsWatch{}, false
		}
		var w failover.BackendsWatch
		if err == nil {
			w, err = newBackendsWatch(s, o.node)
		}
		if err == nil {
			return w, true
		}
		if err.Error() != logged {
			logged = err.Error()
			log.Warn("the backends watch cannot start yet; trying again", zap.Error(err), zap.Duration("every", backendsRetry))
		}
		select {
		case <-ctx.Done():
			return failover.BackendsWatch{}, false
		case <-time.After(backendsRetry):
		}
	}
}

func newBackendsWatch(s *state.State, node string) (failover.BackendsWatch, error) {
	i, err := findThisNode(s, node)
	if err != nil {
		return failover.BackendsWatch{}, err
	}
	name := s.LoadBalancers[i].Name
	health, err := s.HealthURL(name)
	if err != nil {
		return failover.BackendsWatch{}, err
	}
	return failover.BackendsWatch{
		Eligibility: failover.Eligibility{Health: health, Peers: s.PeerStatsURLs(name)},
		Hold:        time.Duration(s.HAProxy.Checks.Interval) + failover.BackendsHoldMargin,
	}, nil
}

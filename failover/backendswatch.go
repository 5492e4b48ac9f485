package failover

import (
	"context"
	"time"
)

// Defaults of BackendsWatch.
const (
	DefaultBackendsEvery = 200 * time.Millisecond
	// BackendsHoldMargin is added to the check interval for Hold: the
	// time a check result takes to reach the stats frontend, and the
	// watch's own polling.
	BackendsHoldMargin = 200 * time.Millisecond
)

// BackendsWatch tells keepalived at once when this node should leave
// MASTER because it reaches no backend while a peer does, the rule of
// Eligibility.Check, instead of after keepalived's check script has failed
// twice (one to two seconds later). Every Every it asks this node's
// /backendz and, while that says 503, the peers'; once this node has seen
// no backend while a peer saw one for Hold without a break, it is unfit.
//
// Hold is what keeps a cluster-wide outage from moving the Floating IP,
// when it begins and when it ends: both HAProxies mark the servers down
// (and up again) each on its own check schedule, up to one check interval
// apart, and a node acting on one look would hand the Floating IP to a
// peer about to see the same. So Hold is at least the check interval
// (haproxy.checks.interval) plus BackendsHoldMargin.
type BackendsWatch struct {
	Eligibility Eligibility
	Every       time.Duration // DefaultBackendsEvery when zero
	Hold        time.Duration
	// Report is called with the verdict at the first look and whenever it
	// changes: fit false means leave MASTER. A verdict it could not pass
	// on (an error) is reported again at the next look.
	Report func(fit bool) error
}

// Run watches until ctx ends.
func (w BackendsWatch) Run(ctx context.Context) {
	every := w.Every
	if every <= 0 {
		every = DefaultBackendsEvery
	}
	client := noProxyClient()
	h := &backendsHold{hold: w.Hold}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		// A look is bounded by the peers' timeouts and one interval for
		// this node's own answer.
		lctx, cancel := context.WithTimeout(ctx, every+time.Duration(len(w.Eligibility.Peers))*w.Eligibility.peerTimeout())
		down := w.Eligibility.backendsDown(lctx, client)
		report, fit := h.look(time.Now(), down, func() bool {
			_, ok := w.Eligibility.peerSeesBackends(lctx, client)
			return ok
		})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if report && w.Report(fit) != nil {
			h.reported = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// backendsHold turns a series of looks into verdicts: unfit once this
// node's backends have been down while a peer saw one, for hold without a
// break; fit as soon as either is no longer so.
type backendsHold struct {
	hold     time.Duration
	since    time.Time // the first look of the current streak of "down here, up there"
	reported bool
	fit      bool // what was last reported
}

// look takes a look at now: down is this node's answer, peerSees asks the
// peers (only while down). It returns whether to report, and the verdict.
func (h *backendsHold) look(now time.Time, down bool, peerSees func() bool) (report, fit bool) {
	fit = true
	if down && peerSees() {
		if h.since.IsZero() {
			h.since = now
		}
		fit = now.Sub(h.since) < h.hold
	} else {
		h.since = time.Time{}
	}
	if h.reported && fit == h.fit {
		return false, fit
	}
	h.reported, h.fit = true, fit
	return true, fit
}

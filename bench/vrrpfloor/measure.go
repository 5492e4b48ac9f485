package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// result is what was measured at one advert interval.
type result struct {
	AdvertInterval string           `json:"advertInterval"`
	Started        time.Time        `json:"started"`
	Errors         []string         `json:"errors,omitempty"`
	Elected        bool             `json:"elected"` // the first node MASTER, the second BACKUP, after both started
	Idle           *idleResult      `json:"idle,omitempty"`
	Returns        []returnResult   `json:"returns"`
	Failovers      []failoverResult `json:"failovers"`
	Load           loadRange        `json:"load"`
	Events         timeline         `json:"events"`
}

// idleResult counts, per node, what happened while nothing was done to the
// pair: after the election every one of these is unforced.
type idleResult struct {
	Seconds  float64        `json:"seconds"`
	Master   map[string]int `json:"master"`   // transitions to MASTER
	Backup   map[string]int `json:"backup"`   // to BACKUP
	Fault    map[string]int `json:"fault"`    // to FAULT
	Reassert map[string]int `json:"reassert"` // notify_master_rx_lower_pri runs
	VIPAdded map[string]int `json:"vipAdded"` // the Floating IP added to the interface
}

// returnResult is one round of the nopreempt check: the MASTER's
// keepalived stopped (SIGTERM), the BACKUP took over, the stopped one
// started again.
type returnResult struct {
	Stopped     string  `json:"stopped"`
	TakenOverBy string  `json:"takenOverBy"`
	TakeoverMS  float64 `json:"takeoverMs"`  // SIGTERM to the other's MASTER notify
	TookBack    bool    `json:"tookBack"`    // the returning node became MASTER again
	ExtraMaster int     `json:"extraMaster"` // MASTER transitions of either node beyond the takeover
}

// failoverResult is one run of the MASTER's links going down.
type failoverResult struct {
	Master      string  `json:"master"`
	Backup      string  `json:"backup"`
	VIPMS       float64 `json:"vipMs"`    // links down to the Floating IP on the BACKUP's interface
	NotifyMS    float64 `json:"notifyMs"` // links down to the BACKUP's MASTER notify; -1 if none
	TookBack    bool    `json:"tookBack"` // the old MASTER, links up again, became MASTER again
	ExtraMaster int     `json:"extraMaster"`
}

// runner drives one pair through the phases at one advert interval.
type runner struct {
	p   *pair
	adv time.Duration
	res *result
}

// Bounds of the waits. They only end a phase that went wrong: a healthy
// pair at any interval is far inside them.
func (r *runner) startTimeout() time.Duration    { return 30*time.Second + 10*r.adv }
func (r *runner) takeoverTimeout() time.Duration { return 10*time.Second + 10*r.adv }

// hold is how long a node that came back is watched for taking the MASTER
// role back. Without nopreempt it would do so at the first advert it hears.
func (r *runner) hold() time.Duration { return max(3*time.Second, 10*r.adv) }

// wait polls the pair's timeline every 10 ms until cond holds, at most for
// timeout.
func (r *runner) wait(ctx context.Context, timeout time.Duration, what string, cond func(timeline) bool) (timeline, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		tl, err := r.p.timeline()
		if err != nil {
			return nil, err
		}
		if cond(tl) {
			return tl, nil
		}
		select {
		case <-ctx.Done():
			return tl, fmt.Errorf("gave up after %s waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// firstAfter is a wait condition: node had an event what after t.
func firstAfter(node, what string, t time.Time) func(timeline) bool {
	return func(tl timeline) bool { _, ok := tl.first(node, what, t); return ok }
}

// elect starts the first node, waits for it to become MASTER, then starts
// the second and waits for it to settle as BACKUP: the order in which a
// pair is brought up, which leaves the preferred node MASTER.
func (r *runner) elect(ctx context.Context) error {
	first, second := r.p.nodes[0], r.p.nodes[1]
	for _, step := range []struct {
		n    *node
		want string
	}{{first, master}, {second, backup}} {
		t := time.Now()
		if err := step.n.start(); err != nil {
			return err
		}
		if _, err := r.wait(ctx, r.startTimeout(), step.n.name+" to become "+step.want, firstAfter(step.n.name, step.want, t)); err != nil {
			return fmt.Errorf("%w; keepalived of %s said:\n%s", err, step.n.name, step.n.logTail(15))
		}
	}
	if err := sleep(ctx, r.hold()); err != nil {
		return err
	}
	tl, err := r.p.timeline()
	if err != nil {
		return err
	}
	r.res.Elected = tl.state(first.name) == master && tl.state(second.name) == backup
	if !r.res.Elected {
		return fmt.Errorf("after the election %s is %q and %s %q, expected MASTER and BACKUP", first.name, tl.state(first.name), second.name, tl.state(second.name))
	}
	return nil
}

// idle leaves the pair alone for d and counts what happened.
func (r *runner) idle(ctx context.Context, d time.Duration) error {
	from := time.Now()
	if err := sleep(ctx, d); err != nil {
		return err
	}
	to := time.Now()
	// A notify run takes its time stamp after it started: let the last
	// runs of the window write theirs.
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	tl, err := r.p.timeline()
	if err != nil {
		return err
	}
	ir := &idleResult{Seconds: to.Sub(from).Seconds()}
	for _, c := range []struct {
		m    *map[string]int
		what string
	}{{&ir.Master, master}, {&ir.Backup, backup}, {&ir.Fault, fault}, {&ir.Reassert, reassert}, {&ir.VIPAdded, vipAdded}} {
		*c.m = map[string]int{}
		for _, n := range r.p.nodes {
			(*c.m)[n.name] = tl.count(n.name, c.what, from, to)
		}
	}
	r.res.Idle = ir
	return nil
}

// master waits for exactly one node to be MASTER and the other BACKUP.
func (r *runner) master(ctx context.Context) (*node, error) {
	var m *node
	_, err := r.wait(ctx, max(2*time.Second, 20*r.adv), "one MASTER and one BACKUP", func(tl timeline) bool {
		a, b := r.p.nodes[0], r.p.nodes[1]
		switch {
		case tl.state(a.name) == master && tl.state(b.name) == backup:
			m = a
		case tl.state(b.name) == master && tl.state(a.name) == backup:
			m = b
		}
		return m != nil
	})
	return m, err
}

// comeBack waits for n, started again or with its links up again at t, to
// reach BACKUP, watches it for hold, and reports whether it became MASTER
// again and how many MASTER transitions beyond one both nodes made since
// from.
func (r *runner) comeBack(ctx context.Context, n *node, from, t time.Time) (tookBack bool, extra int, err error) {
	if _, err := r.wait(ctx, r.startTimeout(), n.name+" to come back as BACKUP", firstAfter(n.name, backup, t)); err != nil {
		return false, 0, fmt.Errorf("%w; keepalived of %s said:\n%s", err, n.name, n.logTail(15))
	}
	if err := sleep(ctx, r.hold()); err != nil {
		return false, 0, err
	}
	to := time.Now()
	tl, err := r.p.timeline()
	if err != nil {
		return false, 0, err
	}
	o := r.p.other(n)
	return tl.count(n.name, master, t, to) > 0, tl.count(n.name, master, from, to) + tl.count(o.name, master, from, to) - 1, nil
}

// returnOnce stops the MASTER's keepalived, waits for the BACKUP to take
// over and starts the stopped one again.
func (r *runner) returnOnce(ctx context.Context) (returnResult, error) {
	m, err := r.master(ctx)
	if err != nil {
		return returnResult{}, err
	}
	b := r.p.other(m)
	rr := returnResult{Stopped: m.name, TakenOverBy: b.name}
	t0 := time.Now()
	if err := m.stop(); err != nil {
		return rr, err
	}
	tl, err := r.wait(ctx, r.takeoverTimeout(), b.name+" to take over from a stopped "+m.name, firstAfter(b.name, master, t0))
	if err != nil {
		return rr, err
	}
	e, _ := tl.first(b.name, master, t0)
	rr.TakeoverMS = ms(e.At.Sub(t0))
	t1 := time.Now()
	if err := m.start(); err != nil {
		return rr, err
	}
	rr.TookBack, rr.ExtraMaster, err = r.comeBack(ctx, m, t0, t1)
	return rr, err
}

// failoverOnce sets the MASTER's links down, measures until the BACKUP has
// the Floating IP, and sets them up again.
func (r *runner) failoverOnce(ctx context.Context) (failoverResult, error) {
	m, err := r.master(ctx)
	if err != nil {
		return failoverResult{}, err
	}
	b := r.p.other(m)
	fr := failoverResult{Master: m.name, Backup: b.name, NotifyMS: -1}
	// The waits before end in step with the MASTER's adverts (a node comes
	// back when it hears one, the hold is whole intervals): start at a
	// random phase of the advert cycle, or every run would begin just
	// after an advert and measure the longest takeover only.
	if err := sleep(ctx, rand.N(r.adv)); err != nil {
		return fr, err
	}
	t0 := time.Now()
	if err := m.setLinks("down"); err != nil {
		return fr, err
	}
	tl, err := r.wait(ctx, r.takeoverTimeout(), "the Floating IP on "+b.name, firstAfter(b.name, vipAdded, t0))
	if err != nil {
		return fr, err
	}
	e, _ := tl.first(b.name, vipAdded, t0)
	fr.VIPMS = ms(e.At.Sub(t0))
	// keepalived adds the address before it starts notify.
	if tl, err = r.wait(ctx, 5*time.Second, b.name+"'s MASTER notify", firstAfter(b.name, master, t0)); err == nil {
		e, _ := tl.first(b.name, master, t0)
		fr.NotifyMS = ms(e.At.Sub(t0))
	}
	t1 := time.Now()
	if err := m.setLinks("up"); err != nil {
		return fr, err
	}
	fr.TookBack, fr.ExtraMaster, err = r.comeBack(ctx, m, t0, t1)
	return fr, err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

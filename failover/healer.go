package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// Defaults for HealerConfig.
const (
	DefaultHealInterval   = 30 * time.Second
	DefaultMaxHealBackoff = 10 * time.Minute
)

// OwnerAssigner can also tell where the Floating IP points
// (*hetzner.Client).
type OwnerAssigner interface {
	Assigner
	// Owner returns the server the Floating IP points to, 0 for none.
	Owner(ctx context.Context, floatingIPID int64) (int64, error)
}

// HealerConfig configures a Healer.
type HealerConfig struct {
	StateDir string // DefaultStateDir when empty; the notify runs' directory
	// FloatingIPID is the Floating IP healed through the client given to
	// NewHealer, unless Target is set.
	FloatingIPID int64
	// Target, when set, is what is healed, known as Key (its assign lock,
	// its entry in HealFile) and Name (in errors); Kind is what log
	// messages call it ("floating IP" when empty).
	Target          HealTarget
	Key, Name, Kind string
	// Instance is the VRRP instance whose recorded state the healer
	// follows; "" for any (a pair with one instance). VRRPInstance names
	// the address's instance in HealFile, for the metrics.
	Instance, VRRPInstance string
	// Node is this load balancer's name, for a Target that knows its
	// holders by load balancer.
	Node     string
	ServerID ServerIDFunc
	Interval time.Duration // between checks; DefaultHealInterval when zero
	// MaxBackoff caps the wait after rate-limited checks, which doubles
	// from Interval; DefaultMaxHealBackoff when zero.
	MaxBackoff time.Duration
	// CheckTimeout bounds one check; DefaultDeadline when zero.
	CheckTimeout time.Duration
	// Peers are the other load balancers, for the ownership rule of a
	// partition (see CheckOnce).
	Peers []Peer
	// PeerTimeout bounds the question to a peer; 500 ms when zero.
	PeerTimeout time.Duration
	// Confirm, when set, must agree that this node is MASTER right now
	// before anything is asked of the API: the record alone outlives a
	// keepalived that was killed without reporting STOP, and healing on
	// it would fight the real MASTER. A non-nil error skips the check.
	Confirm func() error
}

// Peer is another load balancer of the pair, as the healer sees it.
type Peer struct {
	Name     string
	ServerID int64  // 0 when not known (left to the metadata service)
	Stats    string // its stats frontend, http://ADDRESS:PORT; "" when not reachable over the private network
	Above    bool   // it comes before this node in loadBalancers
}

// Outcome is what one check found or did.
type Outcome string

// The outcomes of CheckOnce.
const (
	NotMaster Outcome = "not-master" // the recorded state is not MASTER: nothing asked
	Owned     Outcome = "owned"      // the Floating IP points here
	Busy      Outcome = "busy"       // a notify run holds the assign lock: left to it
	Healed    Outcome = "healed"     // it pointed elsewhere and was assigned here
	// Unconfirmed: MASTER is recorded, but Confirm disagrees (keepalived
	// is gone, or the address is not on this node): nothing asked.
	Unconfirmed Outcome = "unconfirmed"
	Failed      Outcome = "failed" // the check or the assign failed
	// Yielded: the Floating IP is on a peer that ranks above this node
	// and is not known to be down: left there, so that two MASTERs of a
	// partition do not move it back and forth.
	Yielded Outcome = "yielded"
)

// Healer re-asserts the Floating IP while this node is MASTER: a notify
// run that failed, was killed or lost a race is healed within one
// Interval.
type Healer struct {
	cfg    HealerConfig
	store  *Store
	target HealTarget
	log    *zap.Logger

	lastErr string // the error last logged, to log each one once
	yielded bool   // the last check yielded to a peer (logged once)

	// What the last check saw, for HealCheck: set by CheckOnce.
	last       HealCheck
	counts     map[Outcome]int
	requests   int
	rateStreak int // consecutive rate-limited checks
}

// NewHealer returns a Healer of cfg.Target, else of the Floating IP
// cfg.FloatingIPID through client.
func NewHealer(cfg HealerConfig, client OwnerAssigner, log *zap.Logger) *Healer {
	setDefault(&cfg.Interval, DefaultHealInterval)
	setDefault(&cfg.MaxBackoff, DefaultMaxHealBackoff)
	setDefault(&cfg.CheckTimeout, DefaultDeadline)
	if cfg.Target == nil {
		cfg.Target = FloatingIPHealTarget(cfg.FloatingIPID, client)
		cfg.Key = cmp.Or(cfg.Key, FloatingIPKey(cfg.FloatingIPID))
		cfg.Name = cmp.Or(cfg.Name, "floating IP "+strconv.FormatInt(cfg.FloatingIPID, 10))
	}
	cfg.Kind = cmp.Or(cfg.Kind, "floating IP")
	return &Healer{cfg: cfg, store: NewStore(cfg.StateDir), target: cfg.Target, log: log.Named("heal")}
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Run checks at once, then every Interval (longer after rate limiting),
// until ctx ends; then it returns nil. It logs what it does: each heal,
// each new error, and the recovery from errors.
func (h *Healer) Run(ctx context.Context) error {
	var wait time.Duration
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		outcome, err := h.CheckOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait = h.next(err)
		h.report(outcome, err, wait)
		h.record(outcome, err)
	}
}

// CheckOnce is one check: with the recorded state of the instance MASTER,
// one look where the target points (a GET); when it points elsewhere (or
// nowhere) and no notify run is at work, an assign under the target's
// assign lock, after checking the record again.
func (h *Healer) CheckOnce(ctx context.Context) (Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CheckTimeout)
	defer cancel()
	h.last = HealCheck{Target: h.cfg.Key, VRRPInstance: h.cfg.VRRPInstance}
	if rec, err := h.store.LatestFor(h.cfg.Instance); err != nil || rec.State != Master {
		return NotMaster, err
	}
	if h.cfg.Confirm != nil {
		if err := h.cfg.Confirm(); err != nil {
			return Unconfirmed, fmt.Errorf("recorded MASTER, but %w: not checking the %s", err, h.cfg.Kind)
		}
	}
	me, err := h.cfg.ServerID(ctx)
	if err != nil {
		return Failed, fmt.Errorf("finding this server's ID: %w", err)
	}
	holder, err := h.target.Holder(ctx)
	h.last.Me, h.last.Requests = me, 1
	if err != nil {
		return Failed, err
	}
	here := h.mine(holder, me)
	h.last.Owner, h.last.Holder, h.last.Here = holder.Server, holder.Where, &here
	if here {
		return Owned, nil
	}
	if p, ok := h.yieldTo(ctx, holder); ok {
		return Yielded, nil
	} else if p != "" {
		h.log.Info("the "+h.cfg.Kind+" is on a peer that ranks above this node, and its HAProxy is down: taking it", zap.String("peer", p))
	}
	return h.heal(ctx, me, holder)
}

// mine reports whether holder is this node.
func (h *Healer) mine(holder Holder, me int64) bool {
	if holder.ByNode {
		return holder.Node != "" && holder.Node == h.cfg.Node
	}
	return holder.Server == me
}

// yieldTo decides whether to leave the address where it is: on a peer
// that ranks above this node (or on a server no peer is known to be, when a
// higher-ranked peer's ID is not known) while that peer's HAProxy is
// healthy, or cannot be asked. In a partition both nodes are MASTER; the
// higher-ranked one takes the address and keeps it, the other leaves it,
// so it moves at most twice instead of back and forth. Only a peer whose
// machine answers while its HAProxy does not (connection refused, or no
// 200) is known to be down: then the address is taken (a notify that
// failed after the peer's HAProxy died). It returns the peer it asked.
func (h *Healer) yieldTo(ctx context.Context, holder Holder) (string, bool) {
	for _, p := range h.cfg.Peers {
		if !p.Above || !p.mayHold(holder) {
			continue
		}
		if p.Stats == "" {
			return p.Name, true
		}
		pctx, cancel := context.WithTimeout(ctx, cmp.Or(h.cfg.PeerTimeout, 500*time.Millisecond))
		state := AskPeer(pctx, p.Stats)
		cancel()
		if state != PeerUnhealthy {
			return p.Name, true
		}
		return p.Name, false
	}
	return "", false
}

func (h *Healer) heal(ctx context.Context, me int64, holder Holder) (Outcome, error) {
	lock, err := tryLockFile(h.store.path(assignLock(h.cfg.Key)))
	if err != nil || lock == nil {
		return Busy, err
	}
	defer lock.Unlock()
	// A BACKUP recorded since the first look means the address is not ours.
	if rec, err := h.store.LatestFor(h.cfg.Instance); err != nil || rec.State != Master {
		return NotMaster, err
	}
	res, err := h.target.Assign(ctx, me)
	h.last.Requests += res.Requests
	h.last.RateLimit = res.RateLimit.Remaining
	if err != nil {
		return Failed, fmt.Errorf("re-assigning %s from %s: %w", h.cfg.Name, holder.where(), err)
	}
	fields := []zap.Field{zap.String("target", h.cfg.Name), zap.String("was", holder.where()), zap.Int64("server", me),
		zap.Duration("took", res.Total), zap.Int("requests", res.Requests), zap.Int("ratelimit_remaining", res.RateLimit.Remaining)}
	if res.FloatingIPID != 0 {
		fields = append(fields, zap.Int64("floating_ip", res.FloatingIPID))
	}
	h.log.Warn(h.cfg.Kind+" pointed elsewhere; assigned it back to this server", fields...)
	return Healed, nil
}

// record writes the check to HealFile, for the daemon's metrics and
// status; a record that cannot be written is not worth a log line each
// interval.
func (h *Healer) record(outcome Outcome, err error) {
	if h.counts == nil {
		h.counts = map[Outcome]int{}
	}
	h.counts[outcome]++
	h.requests += h.last.Requests
	c := h.last
	c.At, c.Outcome, c.Counts, c.TotalRequests = time.Now().UTC(), outcome, h.counts, h.requests
	if outcome == Healed {
		here := true
		c.Owner, c.Holder, c.Here = c.Me, "", &here
	}
	if err != nil {
		c.Error = err.Error()
	}
	_ = h.store.WriteHeal(c)
}

// retryAfterer is an error that knows the shortest sensible wait before
// the next request (*hetzner.RateLimitError).
type retryAfterer interface{ RetryAfter() time.Duration }

// next is the wait before the next check: Interval, doubled for each
// consecutive rate-limited check up to MaxBackoff.
func (h *Healer) next(err error) time.Duration {
	var ra retryAfterer
	if !errors.As(err, &ra) {
		h.rateStreak = 0
		return h.cfg.Interval
	}
	h.rateStreak++
	wait := max(h.cfg.Interval, ra.RetryAfter())
	for i := 1; i < h.rateStreak && wait < h.cfg.MaxBackoff; i++ {
		wait *= 2
	}
	return min(wait, h.cfg.MaxBackoff)
}

// report logs an error once until it changes or clears.
func (h *Healer) report(outcome Outcome, err error, wait time.Duration) {
	if y := outcome == Yielded; y != h.yielded {
		h.yielded = y
		if y {
			h.log.Info("the " + h.cfg.Kind + " is on a peer that ranks above this node and is not known to be down: leaving it there")
		}
	}
	if err == nil {
		if h.lastErr != "" {
			h.log.Info(h.cfg.Kind+" check works again", zap.String("outcome", string(outcome)))
		}
		h.lastErr = ""
		return
	}
	if msg := err.Error(); msg != h.lastErr {
		h.lastErr = msg
		h.log.Warn(h.cfg.Kind+" check failed", zap.Error(err), zap.Duration("next_check_in", wait))
	}
}

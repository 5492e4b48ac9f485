package discovery

import (
	"context"
	"math"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/state"
)

// fetched is what one poll got from the API.
type fetched struct {
	networkID int64
	found     map[string][]Server // by list, for the lists with a selector
	skipped   []Skipped
	requests  int // every request, the network's lookup included
	lists     int // the requests of the server lists: what every poll costs
	rateLimit hetzner.RateLimit
	err       error
}

// fetch asks the API for every list of d: the network's ID first, unless
// it is known, then the servers of each selector.
func (p *Poller) fetch(ctx context.Context, s *state.State, d *state.HCloudDiscovery) fetched {
	r := fetched{found: map[string][]Server{}}
	api, err := p.cfg.Connect(s)
	if err != nil {
		r.err = err
		return r
	}
	p.mu.Lock()
	r.networkID = p.networkID
	if p.network != string(d.Network) {
		r.networkID = 0
	}
	p.mu.Unlock()
	add := func(u hetzner.Usage) {
		r.requests += u.Requests
		if u.RateLimit.Known() {
			r.rateLimit = u.RateLimit
		}
	}
	if r.networkID == 0 {
		id, use, err := api.NetworkID(ctx, string(d.Network))
		add(use)
		if err != nil {
			r.err = err
			return r
		}
		r.networkID = id
	}
	for _, list := range lists {
		sel := d.Selector(list)
		if sel == "" {
			continue
		}
		servers, use, err := api.Servers(ctx, sel)
		add(use)
		r.lists += use.Requests
		if err != nil {
			r.err = err
			return r
		}
		ok, skipped := accept(list, servers, r.networkID, string(d.Network))
		r.found[list] = ok
		r.skipped = append(r.skipped, skipped...)
	}
	return r
}

// record applies a poll's result under the safety rules, logs what
// changed, keeps the set and writes the status. The caller holds p.mu.
func (p *Poller) record(s *state.State, d *state.HCloudDiscovery, r fetched, start time.Time) {
	st := &p.status
	st.Polls++
	st.Requests += r.requests
	if rl := rateLimitOf(r.rateLimit); rl != nil {
		st.RateLimit = rl
	}
	st.LastPoll = &Poll{At: start, TookSeconds: time.Since(start).Seconds(), Requests: r.requests, Error: errorText(r.err)}
	st.Network, st.Interval = string(d.Network), time.Duration(d.Interval).Seconds()
	st.Selectors = map[string]string{}
	for _, list := range lists {
		if sel := d.Selector(list); sel != "" {
			st.Selectors[list] = sel
		}
	}
	if r.err != nil {
		p.failed(r.err)
	} else {
		p.succeeded(s, d, r, start)
	}
	st.UpdatedAt = time.Now()
	if p.cfg.StatusPath != "" {
		if err := writeStatus(p.cfg.StatusPath, *st); err != nil {
			p.log.Warn("cannot write the discovery status", zap.String("file", p.cfg.StatusPath), zap.Error(err))
		}
	}
}

// failed keeps the set: an API error must not empty a backend. Results
// held back are forgotten, since later polls are no longer consecutive
// with them.
func (p *Poller) failed(err error) {
	p.status.Failures++
	p.guard.reset()
	p.status.Held = nil
	if text := err.Error(); text != p.loggedErr {
		p.loggedErr = text
		p.log.Warn("discovery poll failed; keeping the servers discovered before",
			zap.Error(err), zap.String("source", p.status.Source),
			zap.Int("control_planes", len(p.set.ControlPlanes)), zap.Int("workers", len(p.set.Workers)))
	}
}

func (p *Poller) succeeded(s *state.State, d *state.HCloudDiscovery, r fetched, start time.Time) {
	if p.loggedErr != "" {
		p.log.Info("discovery polls again")
		p.loggedErr = ""
	}
	p.network, p.networkID = string(d.Network), r.networkID
	p.pollSkips = p.reportSkips(p.pollSkips, r.skipped)
	next := Set{}
	p.status.Held = nil
	for _, list := range lists {
		found, polled := r.found[list]
		if !polled {
			continue // no selector: nothing discovered for this list
		}
		current := p.set.of(list)
		v := p.guard.judge(list, len(staticOf(s, list)), current, found)
		switch {
		case !v.apply:
			p.status.Held = append(p.status.Held, Held{List: list, Seen: v.seen, Needed: HoldPolls, Removes: v.removes})
			p.log.Warn("holding back a discovery result that removes many servers",
				zap.String("list", list), zap.Strings("removes", v.removes), zap.Int("seen", v.seen), zap.Int("needed", HoldPolls))
			next = next.with(list, current)
		case v.seen > 0:
			p.log.Warn("applying a discovery result seen on consecutive polls that removes many servers",
				zap.String("list", list), zap.Strings("removes", v.removes), zap.Int("seen", v.seen))
			next = next.with(list, found)
		default:
			next = next.with(list, found)
		}
	}
	p.status.Source, p.status.LastSuccess, p.status.NetworkID = "api", start, r.networkID
	p.status.Skipped = r.skipped
	p.logCost(r.lists, time.Duration(d.Interval))
	p.log.Debug("polled", zap.Int("requests", r.requests), zap.Int("ratelimit_remaining", r.rateLimit.Remaining),
		zap.Int("control_planes", len(next.ControlPlanes)), zap.Int("workers", len(next.Workers)))
	changed := !next.Equal(p.set)
	if changed {
		p.logChanges(p.set, next)
		p.set = next
		signal(p.changed)
	}
	p.status.Servers = next
	p.keep(Saved{PolledAt: start, Network: string(d.Network), NetworkID: p.networkID, Selectors: p.status.Selectors, Set: next})
}

// keep saves saved unless the kept file holds it already (polled with
// the same network and selectors): the file changes with the set, not
// with every poll.
func (p *Poller) keep(saved Saved) {
	k := p.kept
	if p.cfg.Path == "" || (k.Version != 0 && k.Network == saved.Network && k.NetworkID == saved.NetworkID &&
		mapsEqual(k.Selectors, saved.Selectors) && k.Set.Equal(saved.Set)) {
		return
	}
	if err := Save(p.cfg.Path, saved); err != nil {
		p.log.Warn("cannot keep the discovered servers for the next start", zap.String("file", p.cfg.Path), zap.Error(err))
		return
	}
	saved.Version = fileVersion
	p.kept = saved
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// logChanges logs each server added, removed or moved, with its address.
func (p *Poller) logChanges(old, next Set) {
	for _, list := range lists {
		before, after := old.of(list), next.of(list)
		for _, a := range after {
			i := slices.IndexFunc(before, func(b Server) bool { return b.Name == a.Name })
			switch {
			case i < 0:
				p.log.Info("discovered "+describe(list)+" added", zap.String("list", list), zap.String("server", a.Name), zap.String("address", a.Address), zap.Int64("id", a.ID))
			case before[i].Address != a.Address:
				p.log.Info("discovered "+describe(list)+" has a new address", zap.String("list", list), zap.String("server", a.Name),
					zap.String("address", a.Address), zap.String("was", before[i].Address), zap.Int64("id", a.ID))
			}
		}
		for _, b := range before {
			if !slices.ContainsFunc(after, func(a Server) bool { return a.Name == b.Name }) {
				p.log.Info("discovered "+describe(list)+" removed", zap.String("list", list), zap.String("server", b.Name), zap.String("address", b.Address), zap.Int64("id", b.ID))
			}
		}
	}
}

// logCost logs what polling costs whenever that changes.
func (p *Poller) logCost(perPoll int, interval time.Duration) {
	perHour := RequestsPerHour(perPoll, interval)
	p.status.RequestsPerPoll, p.status.RequestsPerHour = perPoll, perHour
	if perHour == p.cost {
		return
	}
	p.cost = perHour
	fields := []zap.Field{zap.Int("requests_per_poll", perPoll), zap.Duration("interval", interval), zap.Int("requests_per_hour", perHour)}
	if rl := p.status.RateLimit; rl != nil {
		fields = append(fields, zap.Int("ratelimit_remaining", rl.Remaining), zap.Int("ratelimit_limit", rl.Limit))
	}
	p.log.Info("discovery polls the Hetzner API: "+costLine(perPoll, interval, perHour), fields...)
}

// reportSkips logs each skipped server whose reason is new, and returns
// what is reported now: a server reported before is reported again only
// after it was fine in between.
func (p *Poller) reportSkips(before map[string]string, skipped []Skipped) map[string]string {
	now := map[string]string{}
	for _, sk := range skipped {
		key := sk.List + "/" + sk.Name
		now[key] = sk.Reason
		if before[key] != sk.Reason {
			p.log.Warn("discovered "+describe(sk.List)+" left out", zap.String("list", sk.List), zap.String("server", sk.Name),
				zap.Int64("id", sk.ID), zap.String("reason", sk.Reason))
		}
	}
	return now
}

// RequestsPerHour is what polling costs one load balancer: perPoll
// requests every interval, rounded up.
func RequestsPerHour(perPoll int, interval time.Duration) int {
	return int(math.Ceil(float64(perPoll) * float64(time.Hour) / float64(interval)))
}

package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// pairView is what status tells about the load balancer pair: this node's
// VRRP state as notify recorded it, the Floating IP's owner at the
// healer's last check, the last failover, and the peers. Fields are only
// ever added.
type pairView struct {
	Node         string                `json:"node,omitempty"`
	VRRPState    failover.State        `json:"vrrpState,omitempty"`
	VRRPSince    *time.Time            `json:"vrrpSince,omitempty"`
	VRRPEvent    string                `json:"vrrpEvent,omitempty"`
	Healer       *failover.HealCheck   `json:"healer,omitempty"`
	LastFailover *failover.FailoverRun `json:"lastFailover,omitempty"`
	Failovers    map[string]int        `json:"failovers,omitempty"`
	Peers        []peerView            `json:"peers,omitempty"`
	// Maintenance: the maintenance flag holds this node out of MASTER
	// (a drill runs, or one was interrupted).
	Maintenance     bool   `json:"maintenance,omitempty"`
	maintenanceFile string // the flag's path
	// Instances is this node's state in each VRRP instance, when
	// keepalived reported more than one; Addresses is each address's
	// last heal check by key, when the healers look after more than one.
	Instances map[string]failover.Record    `json:"instances,omitempty"`
	Addresses map[string]failover.HealCheck `json:"addresses,omitempty"`
}

type peerView struct {
	Name     string `json:"name"`
	Address  string `json:"address"`
	ServerID int64  `json:"serverID,omitempty"`
}

// readPair gathers the pair's view from the notify state directory and the
// state file; what cannot be read is left out.
func readPair(ctx context.Context, stateDir, statePath string) pairView {
	var p pairView
	store := failover.NewStore(stateDir)
	if rec, err := store.Latest(); err == nil && rec.Seq > 0 {
		p.VRRPState, p.VRRPEvent = rec.State, rec.Event
		p.VRRPSince = &rec.Recorded
	}
	p.maintenanceFile = filepath.Join(stateDir, render.MaintenanceFileName)
	if down, err := (failover.TrackFile{Path: p.maintenanceFile}).Down(); err == nil {
		p.Maintenance = down
	}
	if h, err := store.Heal(); err == nil && !h.At.IsZero() {
		p.Healer = &h
	}
	if h, err := store.History(); err == nil && h.Count > 0 {
		p.LastFailover, p.Failovers = h.Last, h.Results
	}
	p.Instances = namedInstances(store)
	if ts, err := store.HealTargets(); err == nil && len(ts) > 1 {
		p.Addresses = ts
	}
	s, err := state.LoadForFailoverContext(ctx, statePath)
	if err != nil || len(s.LoadBalancers) == 0 {
		return p
	}
	me, err := findThisNode(s, "")
	if err == nil {
		p.Node = s.LoadBalancers[me].Name
	}
	for i, lb := range s.LoadBalancers {
		if i != me {
			p.Peers = append(p.Peers, peerView{Name: lb.Name, Address: lb.Address, ServerID: lb.ServerID})
		}
	}
	return p
}

// print writes the pair's part of status for people.
func (p pairView) print(w io.Writer, now time.Time, row func(k, format string, args ...any)) {
	if p.VRRPState == "" && p.Healer == nil && p.LastFailover == nil && len(p.Peers) == 0 && !p.Maintenance {
		return
	}
	fmt.Fprintln(w)
	node := p.Node
	if node == "" {
		node = "this node"
	}
	switch {
	case len(p.Instances) > 1:
		for _, name := range slices.Sorted(maps.Keys(p.Instances)) {
			rec := p.Instances[name]
			row("vrrp", "%s is %s of %s since %s (%s)", node, rec.State, name, when(rec.Recorded, now), rec.Event)
		}
	case p.VRRPState != "":
		row("vrrp", "%s is %s since %s (%s)", node, p.VRRPState, when(*p.VRRPSince, now), p.VRRPEvent)
	default:
		row("vrrp", "%s: no state recorded by keepalived's notify yet", node)
	}
	if p.Maintenance {
		row("maintenance", "set: %s is held out of MASTER (a drill runs, or one was interrupted: echo 0 > %s)", node, p.maintenanceFile)
	}
	if len(p.Addresses) > 1 {
		for _, key := range slices.Sorted(maps.Keys(p.Addresses)) {
			h := p.Addresses[key]
			row(key, "%s at the last check, %s (%s)%s", placeOf(h), when(h.At, now), h.Outcome, errSuffix(h.Error))
		}
		p.printFailover(now, row)
		return
	}
	switch h := p.Healer; {
	case h == nil:
		row("floating IP", "not checked yet (the healer checks while this node is MASTER)")
	case h.Owner == 0:
		row("floating IP", "last check %s: %s%s", when(h.At, now), h.Outcome, errSuffix(h.Error))
	default:
		where := "server " + strconv.FormatInt(h.Owner, 10)
		if h.Owner == h.Me {
			where = "this node"
		}
		row("floating IP", "on %s at the last check, %s (%s)%s", where, when(h.At, now), h.Outcome, errSuffix(h.Error))
	}
	p.printFailover(now, row)
}

// printFailover prints the last failover and the peers.
func (p pairView) printFailover(now time.Time, row func(k, format string, args ...any)) {
	if f := p.LastFailover; f != nil {
		row("last failover", "%s: %s in %s, %d API requests%s", when(f.At, now), f.Result,
			time.Duration(f.Seconds*float64(time.Second)).Round(time.Millisecond), f.Requests, errSuffix(f.Error))
	}
	for _, peer := range p.Peers {
		id := ""
		if peer.ServerID > 0 {
			id = fmt.Sprintf(", server %d", peer.ServerID)
		}
		row("peer", "%s at %s%s", peer.Name, peer.Address, id)
	}
}

// namedInstances is this node's latest record of each VRRP instance that
// keepalived named (a short-form record counts for every one), when there
// are more than one.
func namedInstances(store *failover.Store) map[string]failover.Record {
	ins, err := store.Instances()
	if err != nil {
		return nil
	}
	out := map[string]failover.Record{}
	for name := range ins {
		if name == "" {
			continue
		}
		if rec, err := store.LatestFor(name); err == nil {
			out[name] = rec
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// placeOf says where an address pointed at its last heal check.
func placeOf(h failover.HealCheck) string {
	switch {
	case h.Here != nil && *h.Here:
		return "on this node"
	case h.Holder != "":
		return "on " + h.Holder
	case h.Owner != 0:
		return "on server " + strconv.FormatInt(h.Owner, 10)
	}
	return "not looked at"
}

func errSuffix(err string) string {
	if err == "" {
		return ""
	}
	return ": " + firstLineOf(err)
}

func firstLineOf(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

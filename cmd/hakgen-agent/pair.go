package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
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
	if p.VRRPState != "" {
		row("vrrp", "%s is %s since %s (%s)", node, p.VRRPState, when(*p.VRRPSince, now), p.VRRPEvent)
	} else {
		row("vrrp", "%s: no state recorded by keepalived's notify yet", node)
	}
	if p.Maintenance {
		row("maintenance", "set: %s is held out of MASTER (a drill runs, or one was interrupted: echo 0 > %s)", node, p.maintenanceFile)
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

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// pair is the two load balancers of the state, each in a network namespace
// of its own, joined through a bridge in a third namespace (the switch), so
// that one node's links going down leaves the other's carrier up:
//
//	lb1: vrSFX 10.0.0.5/24 ── s1vSFX ┐
//	                                 brSFX (switch)
//	lb2: vrSFX 10.0.0.6/24 ── s2vSFX ┘
//	lbN: puSFX (the Floating IP's link) ── sNpSFX (switch, unbridged)
//
// SFX is random per pair, so pairs of concurrent runs cannot meet.
type pair struct {
	sw    *netns
	nodes []*node
	vip   string

	mu      sync.Mutex
	address []event // the Floating IP added to or deleted from a node
}

// pairSetup is what a pair is made from.
type pairSetup struct {
	agent      string // hakgen-agent: renders keepalived.conf, is the vrrp_script's check
	keepalived string
	state      string // the state to start from
	dir        string // for the files of this pair
	adv        time.Duration
	suffix     string
}

func newPair(ctx context.Context, s pairSetup) (p *pair, err error) {
	vr, pub := "vr"+s.suffix, "pu"+s.suffix
	statePath := filepath.Join(s.dir, "state.yaml")
	ps, err := writeState(s.state, statePath, s.adv, vr, pub)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "record"), []byte(recordScript), 0o755); err != nil {
		return nil, err
	}
	p = &pair{vip: ps.vip}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.close())
		}
	}()
	if p.sw, err = newNetns("switch-" + s.suffix); err != nil {
		return p, err
	}
	bridge := "br" + s.suffix
	if err := runAll(p.sw.ip, [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", bridge, "type", "bridge"},
		{"link", "set", bridge, "up"},
	}); err != nil {
		return p, err
	}
	for i, name := range ps.names {
		nc, err := renderNode(ctx, s.agent, statePath, s.dir, name, ps.addrs[i], s.adv)
		if err != nil {
			return p, err
		}
		ns, err := newNetns(name + "-" + s.suffix)
		if err != nil {
			return p, err
		}
		n := &node{nodeConfig: nc, ns: ns, links: []string{vr, pub}, keepalived: s.keepalived, log: nodeLog(s.dir, name)}
		p.nodes = append(p.nodes, n)
		swVR, swPub := fmt.Sprintf("s%dv%s", i+1, s.suffix), fmt.Sprintf("s%dp%s", i+1, s.suffix)
		sw := strconv.Itoa(p.sw.tid)
		if err := runAll(ns.ip, [][]string{
			{"link", "set", "lo", "up"},
			{"link", "add", vr, "type", "veth", "peer", "name", swVR, "netns", sw},
			{"link", "add", pub, "type", "veth", "peer", "name", swPub, "netns", sw},
			{"addr", "add", nc.address + "/24", "dev", vr},
			{"link", "set", vr, "up"},
			{"link", "set", pub, "up"},
		}); err != nil {
			return p, err
		}
		if err := runAll(p.sw.ip, [][]string{
			{"link", "set", swVR, "master", bridge},
			{"link", "set", swVR, "up"},
			{"link", "set", swPub, "up"},
		}); err != nil {
			return p, err
		}
		if err := n.serveHealth(); err != nil {
			return p, err
		}
		if err := n.watchAddress(p.sawAddress(name)); err != nil {
			return p, err
		}
	}
	return p, nil
}

func runAll(ip func(...string) error, cmds [][]string) error {
	for _, c := range cmds {
		if err := ip(c...); err != nil {
			return err
		}
	}
	return nil
}

// sawAddress returns the ip monitor callback of node.
func (p *pair) sawAddress(node string) func(time.Time, string) {
	return func(at time.Time, line string) {
		if what, ok := parseAddressLine(line, p.vip); ok {
			p.mu.Lock()
			p.address = append(p.address, event{At: at, Node: node, What: what})
			p.mu.Unlock()
		}
	}
}

// timeline reads both notify logs and merges them with the address events.
func (p *pair) timeline() (timeline, error) {
	var all []event
	for _, n := range p.nodes {
		data, err := os.ReadFile(n.notify)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		evs, err := parseNotify(data, n.name)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	p.mu.Lock()
	all = append(all, p.address...)
	p.mu.Unlock()
	return sortTimeline(all), nil
}

// other returns the node that is not n.
func (p *pair) other(n *node) *node {
	if p.nodes[0] == n {
		return p.nodes[1]
	}
	return p.nodes[0]
}

// byName returns the node called name.
func (p *pair) byName(name string) *node {
	for _, n := range p.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// close stops both keepalived, a MASTER last (so that stopping it is not
// followed by a takeover), and ends the namespaces.
func (p *pair) close() error {
	var errs []error
	nodes := append([]*node(nil), p.nodes...)
	if tl, err := p.timeline(); err == nil {
		sort.SliceStable(nodes, func(i, j int) bool { return tl.state(nodes[j].name) == master && tl.state(nodes[i].name) != master })
	}
	for _, n := range nodes {
		errs = append(errs, n.close())
		n.ns.close()
	}
	if p.sw != nil {
		p.sw.close()
	}
	return errors.Join(errs...)
}

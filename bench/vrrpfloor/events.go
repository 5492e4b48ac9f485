package main

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// What an event records: a VRRP state keepalived ran notify for, a
// notify_master_rx_lower_pri run, or the Floating IP appearing on or
// leaving a node's interface (seen by ip monitor).
const (
	master     = "MASTER"
	backup     = "BACKUP"
	fault      = "FAULT"
	stopped    = "STOP"
	reassert   = "REASSERT"
	vipAdded   = "VIP+"
	vipDeleted = "VIP-"
)

// event is one thing that happened to a node.
type event struct {
	At   time.Time `json:"at"`
	Node string    `json:"node"`
	What string    `json:"what"`
}

// parseNotify reads the record script's log of node: one line per run,
// "SECONDS.MICROS INSTANCE NAME STATE PRIORITY" or "SECONDS.MICROS REASSERT".
func parseNotify(data []byte, node string) ([]event, error) {
	var evs []event
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		at, err := parseEpoch(f[0])
		if err != nil {
			return nil, fmt.Errorf("notify log of %s, line %d: %w", node, line, err)
		}
		switch {
		case len(f) == 2 && f[1] == reassert:
			evs = append(evs, event{At: at, Node: node, What: reassert})
		case len(f) == 5 && (f[1] == "INSTANCE" || f[1] == "GROUP"):
			evs = append(evs, event{At: at, Node: node, What: f[3]})
		default:
			return nil, fmt.Errorf("notify log of %s, line %d: unexpected %q", node, line, sc.Text())
		}
	}
	return evs, sc.Err()
}

// parseEpoch reads bash's EPOCHREALTIME, seconds with a decimal fraction.
func parseEpoch(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	var nanos int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		n, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %w", s, err)
		}
		for i := len(frac); i < 9; i++ {
			n *= 10
		}
		nanos = n
	}
	return time.Unix(secs, nanos), nil
}

// parseAddressLine reads one line of `ip -o monitor address` and reports
// whether it adds or deletes vip.
func parseAddressLine(line, vip string) (what string, ok bool) {
	if !strings.Contains(line, " inet "+vip+"/") {
		return "", false
	}
	if strings.HasPrefix(line, "Deleted ") {
		return vipDeleted, true
	}
	return vipAdded, true
}

// timeline is every event of a pair, in order of time.
type timeline []event

func sortTimeline(evs []event) timeline {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
	return evs
}

// first returns the first event of node with what after t.
func (tl timeline) first(node, what string, after time.Time) (event, bool) {
	for _, e := range tl {
		if e.Node == node && e.What == what && e.At.After(after) {
			return e, true
		}
	}
	return event{}, false
}

// count counts the events of node with what in (from, to].
func (tl timeline) count(node, what string, from, to time.Time) int {
	n := 0
	for _, e := range tl {
		if e.Node == node && e.What == what && e.At.After(from) && !e.At.After(to) {
			n++
		}
	}
	return n
}

// state returns the VRRP state node last ran notify for, "" before any.
func (tl timeline) state(node string) string {
	s := ""
	for _, e := range tl {
		if e.Node == node {
			switch e.What {
			case master, backup, fault, stopped:
				s = e.What
			}
		}
	}
	return s
}

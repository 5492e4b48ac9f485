package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/state"
)

// readDiscovery reads the discovery status beside the agent's status file
// at statusPath, written by the agent with process ID pid; nil when that
// agent wrote none (its state has no discovery section): a file an
// earlier agent left is not this one's.
func readDiscovery(statusPath string, pid int) (*discovery.Status, error) {
	st, err := discovery.ReadStatus(discovery.StatusPath(statusPath))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	case st.PID != pid:
		return nil, nil
	}
	return st, nil
}

// addDiscoveryJSON adds the discovery status to status --json's document.
func addDiscoveryJSON(doc map[string]json.RawMessage, st *discovery.Status) error {
	if st == nil {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	doc["discovery"] = data
	return nil
}

// printDiscovery writes the discovery status for people.
func printDiscovery(w io.Writer, st *discovery.Status, now time.Time) {
	if st == nil {
		return
	}
	row := func(k, format string, args ...any) {
		if k != "" {
			k += ":"
		}
		fmt.Fprintf(w, "  %-16s "+format+"\n", append([]any{k}, args...)...)
	}
	network := st.Network
	if st.NetworkID != 0 && st.Network != fmt.Sprint(st.NetworkID) {
		network += fmt.Sprintf(" (%d)", st.NetworkID)
	}
	last := "none yet"
	if !st.LastSuccess.IsZero() {
		last = when(st.LastSuccess, now)
	}
	row("discovery", "network %s, every %s; last successful poll: %s", network, seconds(st.Interval), last)
	if st.Source == "persisted" {
		row("", "servers kept from before (no successful poll since the agent started)")
	}
	for _, list := range []string{state.ListControlPlanes, state.ListWorkers} {
		sel, ok := st.Selectors[list]
		if !ok {
			continue
		}
		servers := serversOf(st.Servers, list)
		row("", "%s %q: %d%s", list, sel, len(servers), listServers(servers))
	}
	row("", "%d requests a poll, about %d an hour from this node (%d with both) of the project's 3600%s",
		st.RequestsPerPoll, st.RequestsPerHour, 2*st.RequestsPerHour, rateLimitText(st.RateLimit))
	for _, h := range st.Held {
		row("", "held back: %s without %s (seen on %d of %d consecutive polls)", h.List, strings.Join(h.Removes, ", "), h.Seen, h.Needed)
	}
	for _, sk := range st.Skipped {
		row("", "left out of %s: %s: %s", sk.List, sk.Name, sk.Reason)
	}
	if p := st.LastPoll; p != nil && p.Error != "" {
		row("", "last poll failed (%s): %s", when(p.At, now), indent(p.Error))
	}
}

func serversOf(set discovery.Set, list string) []discovery.Server {
	if list == state.ListControlPlanes {
		return set.ControlPlanes
	}
	return set.Workers
}

func listServers(servers []discovery.Server) string {
	if len(servers) == 0 {
		return ""
	}
	parts := make([]string, len(servers))
	for i, s := range servers {
		parts[i] = s.Name + " " + s.Address
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func rateLimitText(rl *discovery.RateLimit) string {
	if rl == nil {
		return ""
	}
	return fmt.Sprintf("; rate limit: %d of %d left", rl.Remaining, rl.Limit)
}

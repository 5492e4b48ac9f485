package discovery

import (
	"slices"

	"github.com/hakgen/hakgen/state"
)

// HoldPolls is how many consecutive polls must return a result that
// removes many servers before it is applied.
const HoldPolls = 3

// guard holds back results that would remove many servers at once: an
// API answer that lost labels, or a selector edited by mistake, must not
// empty a backend on the first poll. Its state is per list.
type guard struct {
	held map[string]*held
}

// held is a result seen on consecutive polls and not applied yet.
type held struct {
	servers []Server
	seen    int
}

// Held is a result held back, as the status shows it.
type Held struct {
	List    string   `json:"list"`
	Seen    int      `json:"seen"`    // consecutive polls that returned it
	Needed  int      `json:"needed"`  // polls it takes to be applied (HoldPolls)
	Removes []string `json:"removes"` // the servers it would remove
}

// verdict is what the guard decided about one list's result.
type verdict struct {
	apply bool
	// risky results: seen on this many consecutive polls (1 at first);
	// removes are the names they take out.
	seen    int
	removes []string
}

// judge decides whether result replaces current for list, static being
// the number of servers the state file lists for it. A result is risky
// when it removes more than half of the list's servers (static and
// discovered), or leaves no control plane at all; a risky result is
// applied once the same one came HoldPolls times in a row.
func (g *guard) judge(list string, static int, current, result []Server) verdict {
	if g.held == nil {
		g.held = map[string]*held{}
	}
	removes := removed(current, result)
	total := static + len(current)
	noControlPlane := list == state.ListControlPlanes && static == 0 && len(result) == 0 && len(current) > 0
	if len(removes)*2 <= total && !noControlPlane {
		delete(g.held, list)
		return verdict{apply: true}
	}
	h := g.held[list]
	if h == nil || !slices.Equal(h.servers, result) {
		h = &held{servers: result}
		g.held[list] = h
	}
	h.seen++
	if h.seen >= HoldPolls {
		delete(g.held, list)
		return verdict{apply: true, seen: h.seen, removes: removes}
	}
	return verdict{seen: h.seen, removes: removes}
}

// reset forgets every held result: the polls that follow are no longer
// consecutive with them (an API error came between).
func (g *guard) reset() { g.held = nil }

// removed are the names of current that result no longer has.
func removed(current, result []Server) []string {
	var out []string
	for _, c := range current {
		if !slices.ContainsFunc(result, func(r Server) bool { return r.Name == c.Name }) {
			out = append(out, c.Name)
		}
	}
	return out
}

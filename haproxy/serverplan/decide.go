package serverplan

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// dynamicAlgorithms are the balance algorithms whose backends take `add
// server` and any weight at runtime (leastconn is what hakgen renders;
// roundrobin is HAProxy's default).
var dynamicAlgorithms = map[string]bool{"leastconn": true, "roundrobin": true}

// Decide compares the running haproxy.cfg with the new one. It reads both
// as HAProxy does (sections, lines, words), ignoring comments, blank lines,
// spacing and the order of server lines; a server line is then read only
// in backends whose servers differ, and strictly: a server line it cannot
// read fully (an unknown keyword, a quoted word) means Reload.
//
// ServersOnly needs every section, header and non-server line (global,
// defaults, default-server, balance, timeouts, frontends, ...) to be equal,
// and each differing server to be added, removed, re-addressed or
// re-weighted with nothing else of its line changed. An added server must
// have an IP address (a dynamic server does not resolve a name on 2.6) and
// its backend a dynamic algorithm (leastconn, roundrobin).
func Decide(running, next []byte) Decision {
	if bytes.Equal(running, next) {
		return Decision{Kind: Same}
	}
	old, cur := parseConfig(running), parseConfig(next)
	if reason := sectionsDiffer(old, cur); reason != "" {
		return Decision{Kind: Reload, Reason: reason}
	}
	var plan Plan
	for i, s := range cur.sections {
		o := old.sections[i]
		if reason := linesDiffer(o, s); reason != "" {
			return Decision{Kind: Reload, Reason: reason}
		}
		if !s.proxy() || sameServers(o, s) {
			continue
		}
		change, reason := backendChange(o, s)
		if reason != "" {
			return Decision{Kind: Reload, Reason: reason}
		}
		if len(change.Add)+len(change.Update)+len(change.Remove) > 0 {
			plan.Backends = append(plan.Backends, change)
		}
	}
	if plan.Empty() {
		return Decision{Kind: Same}
	}
	return Decision{Kind: ServersOnly, Plan: plan}
}

// sectionsDiffer names the first section added, removed, renamed or moved.
func sectionsDiffer(old, cur *config) string {
	oldTitles := map[string]bool{}
	for _, s := range old.sections {
		oldTitles[s.header.text] = true
	}
	curTitles := map[string]bool{}
	for _, s := range cur.sections {
		curTitles[s.header.text] = true
		if !oldTitles[s.header.text] {
			return fmt.Sprintf("%s added (line %d: %q)", s.title(), s.header.no, s.header.text)
		}
	}
	for _, s := range old.sections {
		if !curTitles[s.header.text] {
			return fmt.Sprintf("%s removed", s.title())
		}
	}
	for i, s := range cur.sections {
		if i >= len(old.sections) || old.sections[i].header.text != s.header.text {
			return fmt.Sprintf("sections reordered: %s is now at line %d", s.title(), s.header.no)
		}
	}
	if len(old.sections) != len(cur.sections) {
		return "a section is repeated"
	}
	return ""
}

// linesDiffer names the first non-server line that differs in a section.
func linesDiffer(o, s *section) string {
	for i, l := range s.lines {
		if i >= len(o.lines) {
			return fmt.Sprintf("%s changed: line %d %s added", s.title(), l.no, shown(l))
		}
		if o.lines[i].text != l.text {
			return fmt.Sprintf("%s changed at line %d: %s (was %s)", s.title(), l.no, shown(l), shown(o.lines[i]))
		}
	}
	if len(o.lines) > len(s.lines) {
		l := o.lines[len(s.lines)]
		return fmt.Sprintf("%s changed: %s removed (line %d of the running file)", s.title(), shown(l), l.no)
	}
	return ""
}

// shown quotes a line for a reason, which is logged: a line that may hold
// a password or its hash (userlist users, stats auth) is not shown.
func shown(l line) string {
	if strings.Contains(l.text, "password") || strings.HasPrefix(l.text, "stats auth ") {
		return "(a line with a password, not shown)"
	}
	return strconv.Quote(l.text)
}

// sameServers reports whether two sections have the same server lines,
// in any order, each under the same default-server lines.
func sameServers(o, s *section) bool {
	if len(o.servers) != len(s.servers) {
		return false
	}
	count := make(map[serverKey]int, len(o.servers))
	for _, sl := range o.servers {
		count[sl.key()]++
	}
	for _, sl := range s.servers {
		k := sl.key()
		if count[k] == 0 {
			return false
		}
		count[k]--
	}
	return true
}

// serverKey is a server line with the number of default-server lines of
// its section above it: two servers of one backend with equal keys are
// equal.
type serverKey struct {
	defaults int
	text     string
}

func (sl serverLine) key() serverKey { return serverKey{len(sl.defaultServers), sl.text} }

// backendChange plans one backend whose servers differ; a non-empty reason
// means the difference needs a reload.
func backendChange(o, s *section) (BackendChange, string) {
	c := BackendChange{Backend: s.name}
	if algo := balance(s); !dynamicAlgorithms[algo] {
		return c, fmt.Sprintf("%s balances with %s: only leastconn and roundrobin backends change servers at runtime", s.title(), algo)
	}
	before, err := readServers(o, nil)
	if err != nil {
		return c, fmt.Sprintf("%s in the running file: %v", o.title(), err)
	}
	after, err := readServers(s, before)
	if err != nil {
		return c, fmt.Sprintf("%s: %v", s.title(), err)
	}
	c.Before, c.After = publics(before), publics(after)
	byName := make(map[string]int, len(before))
	for i, b := range before {
		byName[b.name] = i
	}
	for j, a := range after {
		i, ok := byName[a.name]
		delete(byName, a.name)
		if !ok {
			if !a.addr.IsValid() {
				return c, fmt.Sprintf("%s: new server %s is given by DNS name %s: a server added at runtime does not resolve names on HAProxy 2.6", s.title(), a.name, a.host)
			}
			add := c.After[j]
			add.Keywords = a.addKeywords()
			c.Add = append(c.Add, add)
			continue
		}
		if before[i].key == a.key {
			continue // the same line under the same default-server lines
		}
		if reason := changeOf(s, before[i], a); reason != "" {
			return c, reason
		}
		if c.Before[i].Addr != c.After[j].Addr || c.Before[i].Weight != c.After[j].Weight {
			c.Update = append(c.Update, Update{Name: a.name, Before: c.Before[i], After: c.After[j]})
		}
	}
	for i, b := range before {
		if _, removed := byName[b.name]; removed {
			c.Remove = append(c.Remove, c.Before[i])
		}
	}
	return c, ""
}

// changeOf explains why server b cannot become a at runtime, or "".
func changeOf(s *section, b, a server) string {
	if !sameSettings(b, a) {
		return fmt.Sprintf("%s: server %s changes more than address and weight: %q (was %q)", s.title(), a.name, a.settings(), b.settings())
	}
	if (b.host != "" || a.host != "") && (b.host != a.host || b.port != a.port) {
		return fmt.Sprintf("%s: server %s changes a DNS-named address (%s:%d -> %s:%d): a reload resolves it", s.title(), a.name,
			or(b.host, b.addr.Addr().String()), b.port, or(a.host, a.addr.Addr().String()), a.port)
	}
	return ""
}

// readServers reads every server line of a section strictly. A line equal
// to one of known (servers of the same backend, read before) is not read
// again.
func readServers(s *section, known []server) ([]server, error) {
	byKey := make(map[serverKey]int, len(known))
	for i, k := range known {
		byKey[k.key] = i
	}
	var outer []line
	if s.defaults != nil {
		for _, l := range s.defaults.lines {
			if strings.HasPrefix(l.text, "default-server ") {
				outer = append(outer, l)
			}
		}
	}
	out := make([]server, 0, len(s.servers))
	seen := make(map[string]bool, len(s.servers))
	inherited := map[int][]keyword{} // by the number of the section's default-server lines above
	for _, sl := range s.servers {
		srv, err := readServer(sl, outer, inherited, byKey, known)
		if err != nil {
			return nil, err
		}
		if seen[srv.name] {
			return nil, fmt.Errorf("server %s is defined twice", srv.name)
		}
		seen[srv.name] = true
		out = append(out, srv)
	}
	return out, nil
}

// readServer reads one server line, or takes it from known, caching the
// default-server keywords of its place in inherited.
func readServer(sl serverLine, outer []line, inherited map[int][]keyword, byKey map[serverKey]int, known []server) (server, error) {
	if i, ok := byKey[sl.key()]; ok {
		return known[i], nil
	}
	kws, ok := inherited[len(sl.defaultServers)]
	if !ok {
		var err error
		if kws, err = defaultKeywords(append(outer[:len(outer):len(outer)], sl.defaultServers...)); err != nil {
			return server{}, err
		}
		inherited[len(sl.defaultServers)] = kws
	}
	srv, err := parseServer(sl.line, kws)
	if err != nil {
		return server{}, err
	}
	srv.key = sl.key()
	return srv, nil
}

// balance is the algorithm in effect: the backend's `balance`, else its
// defaults section's, else roundrobin.
func balance(s *section) string {
	for _, sec := range []*section{s, s.defaults} {
		if sec == nil {
			continue
		}
		for _, l := range sec.lines {
			if algo, ok := strings.CutPrefix(l.text, "balance "); ok {
				first, _, _ := strings.Cut(algo, " ")
				return first
			}
		}
	}
	return "roundrobin"
}

func (s server) public() Server {
	w, _ := s.weight() // checked by parseServer
	return Server{Name: s.name, Addr: s.addr, Host: s.host, Port: s.port, Weight: w, Check: s.has("check")}
}

func publics(list []server) []Server {
	out := make([]Server, len(list))
	for i, s := range list {
		out[i] = s.public()
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

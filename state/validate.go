package state

import (
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validator collects every problem of a state, in file order.
type validator struct {
	s        *State
	problems Problems
}

func (v *validator) errorf(path, format string, args ...any) {
	v.problems = append(v.problems, v.s.problem(path, format, args...))
}

func (v *validator) warnf(path, format string, args ...any) {
	p := v.s.problem(path, format, args...)
	p.Warning = true
	v.problems = append(v.problems, p)
}

// Validate checks the whole state and returns every problem found, errors
// and warnings, sorted by their place in the file.
func (s *State) Validate() Problems {
	v := &validator{s: s}
	v.label("cluster", s.Cluster)
	v.controlPlanes()
	v.servers("workers", s.Workers)
	v.apiServer()
	v.extraPorts()
	v.frontendPorts()
	v.stats()
	v.haproxy()
	v.failover()
	v.discovery()
	v.overlaps()
	sortProblems(v.problems)
	return v.problems
}

// sortProblems orders problems by their place in the file.
func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		return a.Line < b.Line || (a.Line == b.Line && a.Col < b.Col)
	})
}

func (v *validator) controlPlanes() {
	n := len(v.s.ControlPlanes)
	switch {
	case n == 0 && v.s.discovers(ListControlPlanes):
		// discovery.hcloud.controlPlanes finds them.
	case n == 0:
		v.errorf("controlPlanes", "at least one control plane is required (expected a list of {name, address})")
	case n%2 == 0 && !v.s.discovers(ListControlPlanes):
		v.warnf("controlPlanes", "%d control planes: etcd tolerates no more failures than with %d (expected an odd count such as 1, 3 or 5)", n, n-1)
	}
	v.servers("controlPlanes", v.s.ControlPlanes)
}

// servers checks one list of backend servers: valid, unique names and
// addresses of single hosts, unique as compared in canonical form.
func (v *validator) servers(list string, servers []Server) {
	names, addrs := map[string]string{}, map[string]string{}
	for i, srv := range servers {
		path := indexed(list, i)
		v.label(path+".name", srv.Name)
		v.unique(names, path+".name", srv.Name, "name")
		if v.address(path+".address", srv.Address) {
			v.uniqueAddr(addrs, path+".address", srv.Address)
		}
		if w := srv.EffectiveWeight(); w < 0 || w > MaxWeight {
			v.errorf(path+".weight", "%d is not a weight (expected 0 to %d; 0 sends the server no new connection, as drain: true does)", w, MaxWeight)
		}
	}
	if len(servers) > 0 && !slices.ContainsFunc(servers, Server.Routed) {
		v.warnf(list, "every one of the %s is drained or has weight 0: its frontends send no new connection anywhere (expected at least one server taking connections)", list)
	}
}

// Routed reports whether the server takes new connections: not drained,
// and a weight above 0.
func (srv Server) Routed() bool { return srv.HAProxyWeight() > 0 }

// EffectiveWeight is the server's weight: Weight, or DefaultWeight.
func (srv Server) EffectiveWeight() int {
	if srv.Weight == nil {
		return DefaultWeight
	}
	return *srv.Weight
}

// HAProxyWeight is the weight haproxy.cfg gives the server: 0 when
// drained, else EffectiveWeight.
func (srv Server) HAProxyWeight() int {
	if srv.Drain {
		return 0
	}
	return srv.EffectiveWeight()
}

// unique reports value when an earlier entry of the same list had it.
func (v *validator) unique(seen map[string]string, path, value, what string) {
	if value == "" {
		return
	}
	if first, dup := seen[value]; dup {
		v.errorf(path, "%s %q is already used by %s (expected each %s once)", what, value, first, what)
		return
	}
	seen[value] = parent(path)
}

func (v *validator) apiServer() {
	a := v.s.APIServer
	v.port("apiServer.port", a.Port)
	v.port("apiServer.backendPort", a.BackendPort)
	if a.HealthCheck != HealthCheckReadyz && a.HealthCheck != HealthCheckTCP {
		v.errorf("apiServer.healthCheck", "%q is not a health check (expected readyz or tcp)", a.HealthCheck)
	}
	v.port("ingress.http.port", v.s.Ingress.HTTP.Port)
	v.port("ingress.http.backendPort", v.s.Ingress.HTTP.BackendPort)
	v.port("ingress.https.port", v.s.Ingress.HTTPS.Port)
	v.port("ingress.https.backendPort", v.s.Ingress.HTTPS.BackendPort)
}

func (v *validator) extraPorts() {
	names := map[string]string{}
	for i, p := range v.s.ExtraPorts {
		path := indexed("extraPorts", i)
		v.label(path+".name", p.Name)
		v.unique(names, path+".name", p.Name, "name")
		v.port(path+".port", p.Port)
		v.port(path+".backendPort", p.BackendPort)
		switch p.Backends {
		case BackendsControlPlanes:
		case BackendsWorkers:
			if !v.s.hasWorkers() {
				v.errorf(path+".backends", "workers, but no workers are listed (expected controlPlanes, or add workers)")
			}
		default:
			v.errorf(path+".backends", "%q is not a backend group (expected controlPlanes or workers)", p.Backends)
		}
	}
}

// frontendPorts checks that no two frontends listen on one port. A
// collision is reported at the later field, or at the one written in the
// file when the other is a default (extraPorts: [{port: 8404}] against
// stats.bind's default): its place is where the fix goes.
func (v *validator) frontendPorts() {
	type claim struct{ path, value string } // value: a bind, shown when it is a default
	used := map[int]claim{}
	add := func(c claim, port int) {
		first, dup := used[port]
		if !dup {
			used[port] = c
			return
		}
		at, other := c, first
		if !v.s.has(c.path) && v.s.has(first.path) {
			at, other = first, c
		}
		name := other.path
		if other.value != "" && !v.s.has(other.path) {
			name += " (default " + other.value + ")"
		}
		v.errorf(at.path, "port %d is already used by %s (expected a port no other frontend listens on)", port, name)
	}
	add(claim{path: "apiServer.port"}, v.s.APIServer.Port)
	if v.s.hasWorkers() {
		add(claim{path: "ingress.http.port"}, v.s.Ingress.HTTP.Port)
		add(claim{path: "ingress.https.port"}, v.s.Ingress.HTTPS.Port)
	}
	for i, p := range v.s.ExtraPorts {
		add(claim{path: indexed("extraPorts", i) + ".port"}, p.Port)
	}
	if _, port, err := SplitBind(v.s.Stats.Bind); err == nil {
		add(claim{path: "stats.bind", value: v.s.Stats.Bind}, port)
	}
}

var statsUser = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (v *validator) stats() {
	st := v.s.Stats
	host, port, err := SplitBind(st.Bind)
	if err != nil {
		v.errorf("stats.bind", "%v (expected ADDRESS:PORT with an IP address, e.g. 10.0.0.5:8404 or [fd00::5]:8404)", err)
	} else {
		v.port("stats.bind", port)
	}
	auth := st.User != ""
	if err == nil && IsWildcard(host) && !auth {
		v.errorf("stats.bind", "%q listens on every address without authentication (expected a private address, or stats.user and stats.passwordFile)", st.Bind)
	}
	if auth && !statsUser.MatchString(st.User) {
		v.errorf("stats.user", "%q is not a valid user name (expected 1-64 letters, digits, '.', '_' or '-')", st.User)
	}
	if auth != (st.PasswordFile != "") {
		missing := "stats.passwordFile"
		if !auth {
			missing = "stats.user"
		}
		v.errorf("stats", "user and passwordFile go together (expected %s as well)", missing)
	}
	v.filePath("stats.passwordFile", st.PasswordFile)
	if err == nil {
		v.statsHost(host, auth)
	}
}

// statsHost checks the host of a stats bind that parsed: one HAProxy can
// listen on, not the Floating IP, and private unless stats has
// authentication.
func (v *validator) statsHost(host string, auth bool) {
	bind := v.s.Stats.Bind
	a, perr := netip.ParseAddr(host) // fails for the wildcard ""
	a = a.Unmap()
	moving, isMoving := movingAt(v.movingAddrs(), host)
	switch {
	case perr == nil && (a.IsMulticast() || a == limitedBroadcast):
		v.errorf("stats.bind", "%q is %s: HAProxy cannot listen on it (expected this node's private address, e.g. 10.0.0.5:8404)", bind, notAHost(a))
	case isMoving && host != "":
		v.errorf("stats.bind", "%q is %s, which only the MASTER holds: the BACKUP's HAProxy could not bind it and keepalived's check would fail everywhere (expected this node's private address)", bind, moving.what)
	case perr == nil && !auth && !a.IsUnspecified() && !a.IsPrivate() && !a.IsLoopback():
		v.warnf("stats.bind", "%q is not a private address and stats has no authentication: anyone who reaches it sees the stats page and metrics (expected a private address, or stats.user and stats.passwordFile)", bind)
	}
}

// maxTimer is the longest timeout HAProxy accepts: its timers count
// milliseconds in a signed 32-bit integer.
const maxTimer = Duration(24 * 24 * time.Hour)

func (v *validator) haproxy() {
	h := v.s.HAProxy
	if h.MaxConn < 1 || h.MaxConn > 10_000_000 {
		v.errorf("haproxy.maxconn", "%d is out of range (expected 1 to 10000000)", h.MaxConn)
	}
	v.shares()
	v.duration("haproxy.hardStopAfter", h.HardStopAfter, time.Second, maxTimer)
	t := h.Timeouts
	for _, d := range []struct {
		name string
		val  Duration
	}{{"connect", t.Connect}, {"client", t.Client}, {"server", t.Server}, {"tunnel", t.Tunnel}, {"clientFin", t.ClientFin}, {"check", t.Check}, {"firstBytes", t.FirstBytes}} {
		v.duration("haproxy.timeouts."+d.name, d.val, time.Millisecond, maxTimer)
	}
	v.duration("haproxy.checks.interval", h.Checks.Interval, 100*time.Millisecond, Duration(time.Hour))
	v.count("haproxy.checks.fall", h.Checks.Fall)
	v.count("haproxy.checks.rise", h.Checks.Rise)
}

func (v *validator) duration(path string, d Duration, minimum time.Duration, maximum Duration) {
	if time.Duration(d) < minimum || d > maximum {
		v.errorf(path, "%s is out of range (expected %s to %s)", d, Duration(minimum), maximum)
	}
}

func (v *validator) count(path string, n int) {
	if n < 1 || n > 100 {
		v.errorf(path, "%d is out of range (expected 1 to 100)", n)
	}
}

func (v *validator) port(path string, port int) {
	if port < 1 || port > 65535 {
		v.errorf(path, "port %d is out of range (expected 1 to 65535)", port)
	}
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// label checks a name that becomes part of HAProxy or keepalived
// identifiers: a lowercase DNS label, so it can never carry a space, a
// newline or a comment into a generated file.
func (v *validator) label(path, name string) {
	if !dnsLabel.MatchString(name) {
		v.errorf(path, "%q is not a lowercase DNS label (expected 1-63 characters a-z, 0-9 and '-', starting and ending with a letter or digit)", name)
	}
}

// filePath checks a path to a file hakgen reads (empty is allowed).
func (v *validator) filePath(path, file string) {
	if strings.ContainsFunc(file, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		v.errorf(path, "%q contains a control character (expected a file path)", file)
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func indexed(list string, i int) string { return list + "[" + strconv.Itoa(i) + "]" }

package render

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/GehirnInc/crypt"
	_ "github.com/GehirnInc/crypt/sha512_crypt" // registers crypt.SHA512

	"github.com/hakgen/hakgen/state"
)

// statsMaxConn is the share of connections kept for the stats frontend
// (page, metrics and keepalived's /healthz check) on top of haproxy.maxconn.
const statsMaxConn = 100

// haproxyView is what the haproxy.cfg template needs, computed from a State.
type haproxyView struct {
	Cluster       string
	Hash          string
	GlobalMaxConn int // haproxy.maxconn plus the stats frontend's share
	StatsMaxConn  int
	HardStopAfter state.Duration
	Timeouts      state.Timeouts
	Checks        state.Checks
	FastInterval  state.Duration // fastinter: checks while a server changes state
	Resolvers     bool           // some server is given by DNS name
	PerSource     int            // haproxy.maxConnPerSource; 0: none
	Proxies       []proxy
	Stats         statsView
	// ServerState is the file HAProxy loads its servers' state from at
	// start and reload; the agent writes it just before each reload.
	ServerState string
}

// ServerStateFile is where the servers' health and addresses are kept
// across a reload (haproxy.cfg's server-state-file). The agent writes it
// right before each reload, from the running HAProxy.
const ServerStateFile = "/var/lib/hakgen/haproxy-server-state"

// Inspection of a frontend's first bytes (see proxy.Inspect).
const (
	inspectTLS  = "tls"  // a TLS ClientHello must arrive in time
	inspectData = "data" // any bytes must arrive in time
)

// proxy is a TCP passthrough frontend with its backend of the same name.
type proxy struct {
	Comment string // constant text, never from the state
	Name    string
	Port    int
	MaxConn int    // this frontend's share of haproxy.maxconn
	Inspect string // inspectTLS, inspectData or "" (extra ports: any protocol)
	Quiet   bool   // log only abnormal connections (ingress: one line per request would flood journald)
	Readyz  bool   // HTTPS GET /readyz health check
	// Servers are the backend's server lines, each after a line break and
	// its indentation, checked word by word (see serverLines).
	Servers string
	servers serverSet // what Servers is rendered from
}

// serverSet is a backend's servers: a list of the state, their port, and
// the keywords of each line.
type serverSet struct {
	list []state.Server
	port int
	opts []string
}

type statsView struct {
	// Backends are the public backends; /backendz answers 200 while at
	// least one of them has a server up.
	Backends     []string
	Bind         string
	DualStack    bool // a wildcard bind: every IPv4 and IPv6 address
	Auth         bool
	User         string
	PasswordHash string
}

func newHAProxyView(s *state.State, opts HAProxyOptions) (*haproxyView, error) {
	node := opts.Node
	h := s.HAProxy
	v := &haproxyView{
		Cluster:       s.Cluster,
		Hash:          s.Hash()[:12],
		GlobalMaxConn: h.MaxConn + statsMaxConn,
		StatsMaxConn:  statsMaxConn,
		HardStopAfter: h.HardStopAfter,
		Timeouts:      h.Timeouts,
		Checks:        h.Checks,
		FastInterval:  fastInterval(h.Checks.Interval),
		Resolvers:     usesDNS(s.ControlPlanes) || usesDNS(s.Workers),
		PerSource:     h.MaxConnPerSource,
		ServerState:   cmp.Or(opts.ServerStateFile, ServerStateFile),
	}
	proxies, err := proxies(s)
	if err != nil {
		return nil, err
	}
	v.Proxies = proxies
	stats, err := newStatsView(s, node)
	if err != nil {
		return nil, err
	}
	for _, p := range proxies {
		stats.Backends = append(stats.Backends, p.Name)
	}
	v.Stats = stats
	return v, nil
}

func proxies(s *state.State) ([]proxy, error) {
	api := s.APIServer
	// Connections to a server marked down are closed, so that clients
	// reconnect to a healthy one instead of hanging on a dead one.
	down := []string{"check", "on-marked-down", "shutdown-sessions"}
	apiOpts := down
	if api.HealthCheck == state.HealthCheckReadyz {
		apiOpts = append(slicesClone(down), "verify", "none")
	}
	ps := []proxy{{
		Comment: "Kubernetes API: TLS passes through to the API servers.",
		Name:    "kube-api", Port: api.Port, MaxConn: s.FrontendMaxConn(state.FrontendAPIServer), Inspect: inspectTLS,
		Readyz: api.HealthCheck == state.HealthCheckReadyz, servers: serverSet{s.ControlPlanes, api.BackendPort, apiOpts},
	}}
	if len(s.Workers) > 0 {
		opts := down
		if s.Ingress.ProxyProtocol {
			opts = append(slicesClone(down), "send-proxy-v2", "check-send-proxy")
		}
		in := s.Ingress
		ps = append(ps,
			proxy{Comment: "Ingress HTTP: passed through to the ingress controller.",
				Name: "ingress-http", Port: in.HTTP.Port, MaxConn: s.FrontendMaxConn(state.FrontendHTTP), Inspect: inspectData, Quiet: true,
				servers: serverSet{s.Workers, in.HTTP.BackendPort, opts}},
			proxy{Comment: "Ingress HTTPS: TLS passes through to the ingress controller.",
				Name: "ingress-https", Port: in.HTTPS.Port, MaxConn: s.FrontendMaxConn(state.FrontendHTTPS), Inspect: inspectTLS, Quiet: true,
				servers: serverSet{s.Workers, in.HTTPS.BackendPort, opts}},
		)
	}
	for _, x := range s.ExtraPorts {
		group := s.ControlPlanes
		if x.Backends == state.BackendsWorkers {
			group = s.Workers
		}
		ps = append(ps, proxy{Comment: "Extra TCP passthrough port.",
			Name: "extra-" + x.Name, Port: x.Port, MaxConn: s.FrontendMaxConn(state.FrontendExtraPort),
			servers: serverSet{group, x.BackendPort, down}})
	}
	for i := range ps {
		lines, err := serverLines(ps[i].servers)
		if err != nil {
			return nil, err
		}
		ps[i].Servers = lines
	}
	return ps, nil
}

// serverLines renders one server line per server, each after a line
// break and its indentation. Every name and address must be a single safe
// word (safeWord); the other words are constants.
//
// A weight other than 1 is written as `weight N`. A drained server is
// `weight 0`: HAProxy has no drain keyword for a server line (`disabled`
// is maintenance: no checks, and its sessions cut by on-marked-down),
// while weight 0 does what `set server ... state drain` does for TCP: the
// server is still checked, keeps its established connections and gets no
// new one. Written in the file, it holds across restarts; the runtime path
// applies it as `set server ... weight 0`, and undrains with the weight of
// the file, so a server reads the same in `show servers state` whether it
// was drained at runtime or loaded drained.
func serverLines(set serverSet) (string, error) {
	suffix := " " + strings.Join(set.opts, " ")
	p := strconv.Itoa(set.port)
	var b strings.Builder
	b.Grow(len(set.list) * (len("\n    server  :") + 32 + len(p) + len(suffix)))
	for _, srv := range set.list {
		if err := errors.Join(safeWord(srv.Name), safeWord(srv.Address)); err != nil {
			return "", err
		}
		b.WriteString("\n    server ")
		b.WriteString(srv.Name)
		b.WriteByte(' ')
		writeAddr(&b, srv.Address, p)
		b.WriteString(suffix)
		if w := srv.HAProxyWeight(); w != state.DefaultWeight {
			b.WriteString(" weight ")
			b.WriteString(strconv.Itoa(w))
		}
	}
	return b.String(), nil
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// fastInterval is the check interval while a server goes up or down
// (fastinter): half the interval, at least 100 ms, so that a failing
// server is out after about interval + (fall-1) × interval/2.
func fastInterval(d state.Duration) state.Duration {
	return max(d/2, state.Duration(100*time.Millisecond))
}

func usesDNS(list []state.Server) bool {
	for _, srv := range list {
		if _, err := netip.ParseAddr(srv.Address); err != nil {
			return true
		}
	}
	return false
}

func newStatsView(s *state.State, node string) (statsView, error) {
	st := s.Stats
	host, port, err := s.StatsBind(node)
	if err != nil {
		return statsView{}, fmt.Errorf("rendering stats: %w", err)
	}
	v := statsView{Bind: addr(host, port)}
	if host == "" || host == "::" {
		v.Bind, v.DualStack = ":::"+strconv.Itoa(port), true
	}
	if st.User == "" {
		return v, nil
	}
	if st.Password == "" {
		return statsView{}, fmt.Errorf("rendering stats: the password of stats.user %q was not loaded from %s", st.User, st.PasswordFile)
	}
	hash, err := passwordHash(s.Cluster, st.User, st.Password)
	if err != nil {
		return statsView{}, err
	}
	v.Auth, v.User, v.PasswordHash = true, st.User, hash
	return v, nil
}

const saltAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// passwordHash hashes the stats password with SHA-512 crypt, which
// HAProxy checks through crypt(3): haproxy.cfg never holds the password.
// The salt is derived from the cluster and user, not the password, so the
// same state renders the same bytes and no reload happens for nothing.
func passwordHash(cluster, user, password string) (string, error) {
	sum := sha256.Sum256([]byte("hakgen stats salt\x00" + cluster + "\x00" + user))
	salt := make([]byte, 16)
	for i := range salt {
		salt[i] = saltAlphabet[int(sum[i])%len(saltAlphabet)]
	}
	hash, err := crypt.SHA512.New().Generate([]byte(password), []byte("$6$"+string(salt)))
	if err != nil {
		return "", fmt.Errorf("hashing the stats password: %w", err)
	}
	return hash, nil
}

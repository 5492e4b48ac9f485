package serverplan_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// addrs is the size of the lab's pool of backend addresses.
const addrs = 8

// lab is a real HAProxy running the production haproxy.cfg, rendered from
// a state and localized (loopback, no privileges), in front of a pool of
// backend addresses 127.0.0.2... on one port, each answering its label
// ("a0", "a1", ...). The control planes of a spec are servers at pool
// addresses; a connection to the API frontend is answered by the label of
// the address it was routed to.
type lab struct {
	t        testing.TB
	build    haproxytest.Build
	in       *haproxytest.Instance
	cfgPath  string
	admin    string // the admin socket, on the host
	apiPort  int
	backend  int      // the pool's port
	pool     []string // pool addresses, by index
	statPort int
	running  []byte // the installed haproxy.cfg
}

// cp is one control plane of a spec: a pool address and a weight (0
// drains it), written as the package doc proposes.
type cp struct {
	name   string
	addr   int // index into the pool
	weight int // 1 is left out of the file, as a default
}

func newLab(t testing.TB, b haproxytest.Build, cps ...cp) *lab {
	t.Helper()
	labels := make([]string, addrs)
	for i := range labels {
		labels[i] = fmt.Sprintf("a%d", i)
	}
	l := &lab{t: t, build: b, apiPort: haproxytest.FreePort(t), statPort: haproxytest.FreePort(t)}
	l.backend, l.pool = haproxytest.NameServersSamePort(t, labels...)
	dir := b.TempDir(t)
	l.cfgPath, l.admin = filepath.Join(dir, "haproxy.cfg"), filepath.Join(dir, "admin.sock")
	l.install(l.render(cps...))
	l.in = b.Start(t, l.cfgPath)
	return l
}

// render renders the production haproxy.cfg for cps: TCP health checks
// (the pool speaks no TLS), small maxconn (this machine's file limit is
// 20000), a 30 s hard-stop-after so an old worker outlives a test.
func (l *lab) render(cps ...cp) []byte {
	l.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "cluster: lab\ncontrolPlanes:\n")
	for _, c := range cps {
		fmt.Fprintf(&b, "  - {name: %s, address: %s}\n", c.name, l.pool[c.addr])
	}
	fmt.Fprintf(&b, "apiServer: {port: %d, backendPort: %d, healthCheck: tcp}\n", l.apiPort, l.backend)
	fmt.Fprintf(&b, "stats: {bind: 127.0.0.1:%d}\n", l.statPort)
	b.WriteString("haproxy: {maxconn: 50, hardStopAfter: 30s}\n")
	s, _, err := state.Parse("lab.yaml", []byte(b.String()))
	if err != nil {
		l.t.Fatalf("lab state: %v\n%s", err, b.String())
	}
	cfg, err := render.HAProxy(s)
	if err != nil {
		l.t.Fatal(err)
	}
	out, err := l.build.Localize(cfg, l.admin)
	if err != nil {
		l.t.Fatal(err)
	}
	text := string(out)
	for _, c := range cps {
		if c.weight != 1 {
			text = withServer(text, c.name, fmt.Sprintf("weight %d", c.weight))
		}
	}
	return []byte(text)
}

// install writes cfg where HAProxy reads it, as the agent installs a file
// before it applies a plan.
func (l *lab) install(cfg []byte) {
	l.t.Helper()
	if err := os.WriteFile(l.cfgPath, cfg, 0o644); err != nil {
		l.t.Fatal(err)
	}
	l.running = cfg
}

// decide renders cps, installs the file and returns the plan from the
// running file to it; the decision must be ServersOnly.
func (l *lab) decide(cps ...cp) serverplan.Plan {
	l.t.Helper()
	next := l.render(cps...)
	d := serverplan.Decide(l.running, next)
	if d.Kind != serverplan.ServersOnly {
		l.t.Fatalf("decision %v (%s), want servers-only", d.Kind, d.Reason)
	}
	l.install(next)
	return d.Plan
}

func (l *lab) worker(ctx context.Context) *haproxy.Worker {
	l.t.Helper()
	w, err := haproxy.CurrentWorker(ctx, l.in.Master)
	if err != nil {
		l.t.Fatal(err)
	}
	return w
}

func (l *lab) frontend() string { return fmt.Sprintf("127.0.0.1:%d", l.apiPort) }

// wantRouted fails unless 5 connections per expected server all reach the
// pool addresses of the servers with a weight, each at least once
// (leastconn takes turns among idle servers).
func (l *lab) wantRouted(cps ...cp) {
	l.t.Helper()
	var want []string
	for _, c := range cps {
		if c.weight > 0 {
			want = append(want, fmt.Sprintf("a%d", c.addr))
		}
	}
	seen := map[string]int{}
	for range 5 * len(want) {
		got, err := haproxytest.Ask(l.frontend())
		if err != nil {
			l.t.Fatalf("through haproxy: %v", err)
		}
		seen[strings.TrimSpace(got)]++
	}
	var got []string
	for label := range seen {
		got = append(got, label)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		l.t.Errorf("connections reached %v, want each of %v", seen, want)
	}
}

// wantServers fails unless the worker's kube-api servers are cps: names,
// pool addresses, port, weights, and no maintenance or drain.
func (l *lab) wantServers(ctx context.Context, w *haproxy.Worker, cps ...cp) {
	l.t.Helper()
	states, err := w.ServersState(ctx, "kube-api")
	if err != nil {
		l.t.Fatal(err)
	}
	var got, want []string
	for _, s := range states {
		got = append(got, fmt.Sprintf("%s@%s:%d/w%d/%s", s.Name, s.Addr, s.Port, s.Weight, s.Admin))
	}
	for _, c := range cps {
		want = append(want, fmt.Sprintf("%s@%s:%d/w%d/ready", c.name, l.pool[c.addr], l.backend, c.weight))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		l.t.Errorf("show servers state:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (l *lab) procs(ctx context.Context) haproxy.Procs {
	l.t.Helper()
	p, err := l.in.Master.ShowProc(ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	return p
}

// holdStats opens a connection to the stats frontend with half a request:
// HAProxy waits `timeout http-request` (10 s) for the rest, so the worker
// holding it stays alive that long after a reload.
func (l *lab) holdStats() {
	l.t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", l.statPort), 5*time.Second)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		l.t.Fatal(err)
	}
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

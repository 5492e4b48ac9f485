package lab

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of the backends' work.
const (
	streamEvery = 100 * time.Millisecond // a line of /stream, as kubectl logs -f gets them
	streamMax   = 10 * time.Minute       // no stream outlives this
)

// ControlPlane stands in for a kube-apiserver on the private segment: TLS
// on the API port with a certificate of its own, GET /readyz (200, or 503
// after SetReady(false); one answer can be made late or failing with
// PlanReadyz), GET /stream (a line every 100 ms until the client goes)
// and GET / (its name). Stop and Start end and restart its process.
type ControlPlane struct {
	Server
	Cert        tls.Certificate
	Fingerprint string

	notReady atomic.Bool
	svc      *service

	mu      sync.Mutex
	planned map[netip.Addr][]ReadyzAnswer // by the checking load balancer
	served  []ReadyzAnswer                // the planned answers given so far
}

// ReadyzAnswer is a planned answer of /readyz: after Delay, with Status
// (200 when zero).
type ReadyzAnswer struct {
	Delay  time.Duration
	Status int
	At     time.Time // when it was answered (set once served)
}

// SetReady switches the answer of /readyz.
func (c *ControlPlane) SetReady(ready bool) { c.notReady.Store(!ready) }

// PlanReadyz makes the next /readyz requests from the address from (a load
// balancer's check) get the answers a, one each.
func (c *ControlPlane) PlanReadyz(from netip.Addr, a ...ReadyzAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.planned == nil {
		c.planned = map[netip.Addr][]ReadyzAnswer{}
	}
	c.planned[from] = append(c.planned[from], a...)
}

// PlannedServed returns the planned answers given so far, in order.
func (c *ControlPlane) PlannedServed() []ReadyzAnswer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ReadyzAnswer(nil), c.served...)
}

// takePlanned pops the next planned answer for a request from remote.
func (c *ControlPlane) takePlanned(remote string) (ReadyzAnswer, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return ReadyzAnswer{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.planned[ap.Addr()]
	if len(q) == 0 {
		return ReadyzAnswer{}, false
	}
	c.planned[ap.Addr()] = q[1:]
	return q[0], true
}

func (c *ControlPlane) served1(a ReadyzAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a.At = time.Now()
	c.served = append(c.served, a)
}

// Stop ends the control plane as its process dying does: the listener
// closes (new connections are refused) and every open connection is
// closed. Start brings it back.
func (c *ControlPlane) Stop() { c.svc.stop() }

// Start serves again after Stop.
func (c *ControlPlane) Start() error { return c.svc.start() }

func (c *ControlPlane) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if a, ok := c.takePlanned(r.RemoteAddr); ok {
			select {
			case <-time.After(a.Delay):
			case <-r.Context().Done():
			}
			c.served1(a)
			if a.Status != 0 && a.Status != http.StatusOK {
				http.Error(w, "[-]etcd failed: planned", a.Status)
				return
			}
			fmt.Fprintln(w, "ok")
			return
		}
		if c.notReady.Load() {
			http.Error(w, "[-]etcd failed: not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		flusher, _ := w.(http.Flusher)
		tick := time.NewTicker(streamEvery)
		defer tick.Stop()
		end := time.After(streamMax)
		for seq := 0; ; seq++ {
			if _, err := fmt.Fprintf(w, "%s %d\n", c.Name, seq); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			case <-end:
				return
			}
		}
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, c.Name) })
	return mux
}

// Worker stands in for a node running the ingress controller: HTTP on 80
// and TLS (a certificate of its own) on 443, both answering GET / with
// what the worker saw of the client (WorkerReply). It reads a PROXY
// protocol v2 header when a connection opens with one.
type Worker struct {
	Server
	Cert        tls.Certificate
	Fingerprint string
	svcs        []*service
}

// Stop ends the worker's ingress controller (both ports) as its process
// dying does; Start brings it back.
func (wk *Worker) Stop() {
	for _, s := range wk.svcs {
		s.stop()
	}
}

// Start serves both ports again after Stop.
func (wk *Worker) Start() error {
	for _, s := range wk.svcs {
		if err := s.start(); err != nil {
			return err
		}
	}
	return nil
}

// WorkerReply is a worker's answer.
type WorkerReply struct {
	Server  string `json:"server"`
	Client  string `json:"client"`  // the client's address as the worker sees it
	Proxied bool   `json:"proxied"` // the address came from a PROXY header
}

type connKey struct{}

func (wk *Worker) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply := WorkerReply{Server: wk.Name, Client: r.RemoteAddr}
		if pc, ok := r.Context().Value(connKey{}).(*proxyConn); ok {
			reply.Proxied = pc.Proxied()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(reply)
	})
}

// rememberConn puts the PROXY-aware connection under a request's context.
func rememberConn(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	return context.WithValue(ctx, connKey{}, c)
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// Health checks that only connect end every TLS handshake early.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

// service is one listening port of a backend, served over HTTP: started,
// stopped (the listener and every connection closed, as when the process
// dies) and started again on the same address.
type service struct {
	node    *Node
	addr    string
	tls     *tls.Config // nil: plain TCP
	proxy   bool        // read a PROXY header when one comes
	handler http.Handler

	mu  sync.Mutex
	srv *http.Server
}

func (s *service) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	ln, err := s.node.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	if s.proxy {
		ln = proxyListener{ln}
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	srv := newHTTPServer(s.handler)
	if s.proxy {
		srv.ConnContext = rememberConn
	}
	s.srv = srv
	go func() { _ = srv.Serve(ln) }()
	return nil
}

func (s *service) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

// startBackends starts the control planes and workers of the plan in the
// backends node.
func (l *Lab) startBackends() error {
	for _, s := range l.Plan.ControlPlanes {
		cert, err := l.CA.Issue(s.Name, append([]netip.Addr{s.Addr}, l.Plan.clientAddrs()...)...)
		if err != nil {
			return err
		}
		cp := &ControlPlane{Server: s, Cert: cert, Fingerprint: Fingerprint(cert.Certificate[0])}
		cp.svc = &service{node: l.Backends, addr: net.JoinHostPort(s.Addr.String(), strconv.Itoa(l.Plan.APIPort)),
			tls: &tls.Config{Certificates: []tls.Certificate{cp.Cert}}, handler: cp.handler()}
		l.ControlPlanes = append(l.ControlPlanes, cp)
		if err := cp.Start(); err != nil {
			return err
		}
	}
	for _, s := range l.Plan.Workers {
		cert, err := l.CA.Issue(s.Name, append([]netip.Addr{s.Addr}, l.Plan.clientAddrs()...)...)
		if err != nil {
			return err
		}
		wk := &Worker{Server: s, Cert: cert, Fingerprint: Fingerprint(cert.Certificate[0])}
		for _, port := range []int{l.Plan.HTTPPort, l.Plan.HTTPSPort} {
			svc := &service{node: l.Backends, addr: net.JoinHostPort(s.Addr.String(), strconv.Itoa(port)), proxy: true, handler: wk.handler()}
			if port == l.Plan.HTTPSPort {
				svc.tls = &tls.Config{Certificates: []tls.Certificate{wk.Cert}}
			}
			wk.svcs = append(wk.svcs, svc)
		}
		l.Workers = append(l.Workers, wk)
		if err := wk.Start(); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) stopBackends() {
	for _, cp := range l.ControlPlanes {
		cp.Stop()
	}
	for _, wk := range l.Workers {
		wk.Stop()
	}
}

// StopBackends stops every control plane and worker (a cluster-wide
// outage); StartBackends brings them all back.
func (l *Lab) StopBackends() { l.stopBackends() }

// StartBackends starts every control plane and worker after StopBackends.
func (l *Lab) StartBackends() error {
	for _, cp := range l.ControlPlanes {
		if err := cp.Start(); err != nil {
			return err
		}
	}
	for _, wk := range l.Workers {
		if err := wk.Start(); err != nil {
			return err
		}
	}
	return nil
}

// ControlPlane returns the control plane named name.
func (l *Lab) ControlPlane(name string) *ControlPlane {
	for _, cp := range l.ControlPlanes {
		if cp.Name == name {
			return cp
		}
	}
	return nil
}

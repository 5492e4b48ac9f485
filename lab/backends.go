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
	"strconv"
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
// after SetReady(false)), GET /stream (a line every 100 ms until the
// client goes) and GET / (its name).
type ControlPlane struct {
	Server
	Cert        tls.Certificate
	Fingerprint string // of Cert's leaf

	notReady atomic.Bool
	srv      *http.Server
}

// SetReady switches the answer of /readyz.
func (c *ControlPlane) SetReady(ready bool) { c.notReady.Store(!ready) }

func (c *ControlPlane) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
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
	servers     []*http.Server
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

// startBackends starts the control planes and workers of the plan in the
// backends node.
func (l *Lab) startBackends() error {
	for _, s := range l.Plan.ControlPlanes {
		cert, err := l.CA.Issue(s.Name, s.Addr, l.Plan.FloatingIP)
		if err != nil {
			return err
		}
		cp := &ControlPlane{Server: s, Cert: cert, Fingerprint: Fingerprint(cert.Certificate[0])}
		ln, err := l.Backends.Listen("tcp", net.JoinHostPort(s.Addr.String(), strconv.Itoa(l.Plan.APIPort)))
		if err != nil {
			return err
		}
		cp.srv = newHTTPServer(cp.handler())
		go func() { _ = cp.srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cp.Cert}})) }()
		l.ControlPlanes = append(l.ControlPlanes, cp)
	}
	for _, s := range l.Plan.Workers {
		cert, err := l.CA.Issue(s.Name, s.Addr, l.Plan.FloatingIP)
		if err != nil {
			return err
		}
		wk := &Worker{Server: s, Cert: cert, Fingerprint: Fingerprint(cert.Certificate[0])}
		for _, port := range []int{l.Plan.HTTPPort, l.Plan.HTTPSPort} {
			ln, err := l.Backends.Listen("tcp", net.JoinHostPort(s.Addr.String(), strconv.Itoa(port)))
			if err != nil {
				return err
			}
			var lis net.Listener = proxyListener{ln}
			if port == l.Plan.HTTPSPort {
				lis = tls.NewListener(lis, &tls.Config{Certificates: []tls.Certificate{wk.Cert}})
			}
			srv := newHTTPServer(wk.handler())
			srv.ConnContext = rememberConn
			wk.servers = append(wk.servers, srv)
			go func() { _ = srv.Serve(lis) }()
		}
		l.Workers = append(l.Workers, wk)
	}
	return nil
}

func (l *Lab) stopBackends() {
	for _, cp := range l.ControlPlanes {
		_ = cp.srv.Close()
	}
	for _, wk := range l.Workers {
		for _, s := range wk.servers {
			_ = s.Close()
		}
	}
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

package lab

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"time"
)

// The client's pace and bounds.
const (
	// ProbeEvery is how often a Prober opens a new connection.
	ProbeEvery = 50 * time.Millisecond
	// probeTimeout bounds one attempt. It is below Linux's first SYN
	// retransmission (1 s), so an attempt succeeds only when its first SYN
	// got through: its start time is when the path worked.
	probeTimeout = 900 * time.Millisecond
	// maxProbing bounds a Prober's life, maxInFlight its open attempts.
	maxProbing  = 10 * time.Minute
	maxInFlight = 64
)

// Attempt is one new connection a client opened.
type Attempt struct {
	Start, End time.Time
	Server     string // the backend that answered
	Err        string // "" when it succeeded
}

// OK reports whether the attempt succeeded.
func (a Attempt) OK() bool { return a.Err == "" }

// ProbeFunc makes one attempt and names the backend that answered.
type ProbeFunc func(ctx context.Context) (server string, err error)

// Prober is a client that opens a new connection every ProbeEvery until
// stopped (at most maxProbing), each bounded by probeTimeout, and records
// every attempt with its times.
type Prober struct {
	Name  string
	probe ProbeFunc

	mu       sync.Mutex
	attempts []Attempt
	cancel   context.CancelFunc
	done     chan struct{}
}

// StartProber starts a client; the lab stops it when it is torn down.
func (l *Lab) StartProber(name string, probe ProbeFunc) *Prober {
	ctx, cancel := context.WithTimeout(context.Background(), maxProbing)
	p := &Prober{Name: name, probe: probe, cancel: cancel, done: make(chan struct{})}
	go p.loop(ctx)
	l.onClose(func() { p.Stop() })
	return p
}

// APIProber is the client of the outage figures: a TLS connection to the
// API port through the Floating IP every ProbeEvery, verified against the
// lab's CA for the Floating IP's address.
func (l *Lab) APIProber() *Prober { return l.StartProber("api", l.handshakeAPI) }

// HTTPProber asks the ingress on port 80 through the Floating IP every
// ProbeEvery.
func (l *Lab) HTTPProber() *Prober {
	return l.StartProber("http", func(ctx context.Context) (string, error) {
		r, err := l.GetHTTP(ctx)
		return r.Server, err
	})
}

func (p *Prober) loop(ctx context.Context) {
	defer close(p.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxInFlight)
	tick := time.NewTicker(ProbeEvery)
	defer tick.Stop()
	for {
		select {
		case sem <- struct{}{}:
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				p.attempt(ctx)
			}()
		default:
			p.record(Attempt{Start: time.Now(), End: time.Now(), Err: "too many attempts open"})
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func (p *Prober) attempt(ctx context.Context) {
	a := Attempt{Start: time.Now()}
	actx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	server, err := p.probe(actx)
	a.End = time.Now()
	if ctx.Err() != nil {
		return // stopped: not an attempt of the lab's
	}
	a.Server = server
	if err != nil {
		a.Err = err.Error()
	}
	p.record(a)
}

func (p *Prober) record(a Attempt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts = append(p.attempts, a)
}

// Attempts returns the attempts so far, in the order they ended.
func (p *Prober) Attempts() []Attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Attempt(nil), p.attempts...)
}

// Stop ends the client, waits for its open attempts and returns every
// attempt.
func (p *Prober) Stop() []Attempt {
	p.cancel()
	<-p.done
	return p.Attempts()
}

// apiTLS is the client's TLS configuration: the lab's CA, and the
// Floating IP as the name to verify (an IP SAN of every backend).
func (l *Lab) apiTLS() *tls.Config {
	return &tls.Config{RootCAs: l.CA.Pool, ServerName: l.Plan.FloatingIP.String(), MinVersion: tls.VersionTLS12}
}

// handshakeAPI opens a TLS connection to the API port through the
// Floating IP and names the backend by its certificate.
func (l *Lab) handshakeAPI(ctx context.Context) (string, error) {
	raw, err := l.Internet.Dialer(ClientAddr)(ctx, "tcp", l.floatingAddr(l.Plan.APIPort))
	if err != nil {
		return "", err
	}
	defer raw.Close()
	c := tls.Client(raw, l.apiTLS())
	if err := c.HandshakeContext(ctx); err != nil {
		return "", err
	}
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

// ProbeAPI makes one attempt of the APIProber.
func (l *Lab) ProbeAPI(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err := l.handshakeAPI(ctx)
	return err
}

func (l *Lab) floatingAddr(port int) string {
	return net.JoinHostPort(l.Plan.FloatingIP.String(), strconv.Itoa(port))
}

// client is an HTTP client from ClientAddr in the internet namespace that
// opens a new connection for every request.
func (l *Lab) client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:       l.Internet.Dialer(ClientAddr),
		TLSClientConfig:   l.apiTLS(),
		DisableKeepAlives: true,
	}}
}

// Reply is what a request through the Floating IP got.
type Reply struct {
	Status      int
	Body        []byte
	Fingerprint string // of the server's certificate (TLS only)
	CertName    string // its common name
	Local       string // the client's own address and port
}

// Get requests url through the Floating IP with a new connection.
func (l *Lab) Get(ctx context.Context, url string) (Reply, error) {
	var r Reply
	trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { r.Local = ci.Conn.LocalAddr().String() }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, url, nil)
	if err != nil {
		return r, err
	}
	resp, err := l.client().Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	if r.Body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err != nil {
		return r, err
	}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		r.Fingerprint = Fingerprint(resp.TLS.PeerCertificates[0].Raw)
		r.CertName = resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	return r, nil
}

// GetAPI requests path from the API port through the Floating IP.
func (l *Lab) GetAPI(ctx context.Context, path string) (Reply, error) {
	return l.Get(ctx, "https://"+l.floatingAddr(l.Plan.APIPort)+path)
}

// WorkerAnswer is a worker's reply through the Floating IP, with the
// client's own address for comparison.
type WorkerAnswer struct {
	WorkerReply
	Local       string // the client's address and port
	Fingerprint string // the certificate's (HTTPS only)
}

// GetHTTP asks a worker through the ingress's HTTP port.
func (l *Lab) GetHTTP(ctx context.Context) (WorkerAnswer, error) {
	return l.getWorker(ctx, "http://"+l.floatingAddr(l.Plan.HTTPPort)+"/")
}

// GetHTTPS asks a worker through the ingress's HTTPS port.
func (l *Lab) GetHTTPS(ctx context.Context) (WorkerAnswer, error) {
	return l.getWorker(ctx, "https://"+l.floatingAddr(l.Plan.HTTPSPort)+"/")
}

func (l *Lab) getWorker(ctx context.Context, url string) (WorkerAnswer, error) {
	r, err := l.Get(ctx, url)
	if err != nil {
		return WorkerAnswer{}, err
	}
	if r.Status != http.StatusOK {
		return WorkerAnswer{}, fmt.Errorf("%s: status %d", url, r.Status)
	}
	a := WorkerAnswer{Local: r.Local, Fingerprint: r.Fingerprint}
	if err := json.Unmarshal(r.Body, &a.WorkerReply); err != nil {
		return a, fmt.Errorf("%s: %w", url, err)
	}
	if a.Server == "" {
		return a, errors.New(url + ": no worker named itself")
	}
	return a, nil
}

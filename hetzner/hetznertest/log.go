package hetznertest

import (
	"net/netip"
	"time"
)

// Request is one request the fake received.
type Request struct {
	Method   string
	Path     string // URL path, without the query
	Query    string // raw query
	Endpoint Endpoint
	Time     time.Time  // when it arrived
	Remote   netip.Addr // the address it came from
	Status   int        // status answered; 0 when the client went away first
	// Authorized is whether the request carried a bearer token (the
	// token itself is not recorded).
	Authorized bool

	seq uint64 // identifies the entry for setStatus
}

// String is "METHOD /path" (with "?query" when there is one).
func (r Request) String() string {
	s := r.Method + " " + r.Path
	if r.Query != "" {
		s += "?" + r.Query
	}
	return s
}

// Requests returns a copy of the request log, in arrival order.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// Endpoints returns the endpoint of every request so far, in arrival
// order: the shape tests compare against.
func (f *Fake) Endpoints() []Endpoint {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Endpoint, len(f.requests))
	for i, r := range f.requests {
		out[i] = r.Endpoint
	}
	return out
}

// Count is the number of requests to ep so far.
func (f *Fake) Count(ep Endpoint) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.Endpoint == ep {
			n++
		}
	}
	return n
}

// ResetLog forgets the requests received so far.
func (f *Fake) ResetLog() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// logRequest appends r and returns its sequence number, for setStatus.
func (f *Fake) logRequest(r Request) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	r.seq = f.seq
	f.requests = append(f.requests, r)
	return r.seq
}

// setStatus records the status answered to request seq, unless the log
// was reset since.
func (f *Fake) setStatus(seq uint64, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.requests) - 1; i >= 0; i-- {
		if f.requests[i].seq == seq {
			f.requests[i].Status = status
			return
		}
	}
}

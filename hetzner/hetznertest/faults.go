package hetznertest

import (
	"net/http"
	"strconv"
	"time"
)

// Endpoint names one kind of request the fake serves.
type Endpoint string

// The endpoints, as recorded in Request.Endpoint and accepted by Inject and
// SetLatency.
const (
	AnyEndpoint     Endpoint = "" // SetLatency only: every request
	Assign          Endpoint = "assign"
	GetFloatingIP   Endpoint = "get_floating_ip"
	ListFloatingIPs Endpoint = "list_floating_ips"
	GetServer       Endpoint = "get_server"
	ListServers     Endpoint = "list_servers"
	GetAction       Endpoint = "get_action"
	ListActions     Endpoint = "list_actions"
	Metadata        Endpoint = "metadata"
	Unknown         Endpoint = "unknown"
)

// Fault changes how the fake answers one request. The zero value answers
// normally.
type Fault struct {
	// Do runs before the request is handled, e.g. another server grabbing
	// the Floating IP.
	Do func(*Fake)
	// Delay is added before answering (on top of the endpoint's latency);
	// a client that gives up first sees a timeout.
	Delay time.Duration
	// Status, when non-zero, answers with this status instead of handling
	// the request: with an error body when Code is set, with a plain text
	// body otherwise.
	Status  int
	Code    string
	Message string
	// Header holds extra response headers.
	Header http.Header
	// Exhausted answers with RateLimit-Remaining: 0.
	Exhausted bool
	// Drop closes the connection without an answer, as a network failure
	// or a crashing proxy would.
	Drop bool
}

// Locked is the API's answer while another action runs on the resource.
func Locked() Fault {
	return Fault{Status: http.StatusLocked, Code: "locked", Message: "floating ip is locked"}
}

// ResourceLocked is the API's answer for a resource locked by Hetzner.
func ResourceLocked() Fault {
	return Fault{Status: http.StatusLocked, Code: "resource_locked", Message: "resource is locked"}
}

// RateLimited is a 429 rate_limit_exceeded answer with an exhausted budget.
func RateLimited() Fault {
	return Fault{
		Status: http.StatusTooManyRequests, Code: "rate_limit_exceeded",
		Message: "limit of 3600 requests per hour reached", Exhausted: true,
	}
}

// ServerError answers with a 5xx status. 502 and 504 carry the API's
// bad_gateway and timeout codes; other statuses have no JSON body, as
// from a proxy in front of the API.
func ServerError(status int) Fault {
	switch status {
	case http.StatusBadGateway:
		return Fault{Status: status, Code: "bad_gateway", Message: "request could not be answered by the backend"}
	case http.StatusGatewayTimeout:
		return Fault{Status: status, Code: "timeout", Message: "request could not be answered in time"}
	}
	return Fault{Status: status}
}

// Dropped closes the connection without answering.
func Dropped() Fault { return Fault{Drop: true} }

// Slow delays the answer by d.
func Slow(d time.Duration) Fault { return Fault{Delay: d} }

// GrabBefore lets server grab the Floating IP just before the request is
// handled.
func GrabBefore(floatingIPID, server int64) Fault {
	return Fault{Do: func(f *Fake) { f.Grab(floatingIPID, server) }}
}

// Inject queues n copies of fault for the next n requests to ep. Faults for
// one endpoint are used in the order they were injected.
func (f *Fake) Inject(ep Endpoint, n int, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.faults[ep] = append(f.faults[ep], fault)
	}
}

// SetLatency adds d to every answer of ep (AnyEndpoint: of all requests).
// Latencies of AnyEndpoint and of the specific endpoint add up.
func (f *Fake) SetLatency(ep Endpoint, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency[ep] = d
}

// ActionPlan is how the actions of the following assigns proceed.
type ActionPlan struct {
	// RunningPolls is how many polls still see "running"; the poll after
	// them sees the final status. The assign answer itself always says
	// "running", as the real API does.
	RunningPolls int
	// ErrorCode, when set, makes the action end in "error" with this code;
	// the Floating IP then stays where it was.
	ErrorCode    string
	ErrorMessage string
}

func (p ActionPlan) errorMessage() string {
	if p.ErrorMessage != "" {
		return p.ErrorMessage
	}
	return "action failed"
}

// PlanActions sets the plan for actions created from now on (after those
// planned with PlanNextActions).
func (f *Fake) PlanActions(p ActionPlan) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plan = p
}

// PlanNextActions gives the next n actions plan p, one each, before the
// plan of PlanActions applies again: for example one assign that ends in
// error while the ones after it succeed. Calls queue up in order.
func (f *Fake) PlanNextActions(n int, p ActionPlan) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.nextPlans = append(f.nextPlans, p)
	}
}

// takePlanLocked returns the plan of a new action. The caller holds f.mu.
func (f *Fake) takePlanLocked() ActionPlan {
	if len(f.nextPlans) == 0 {
		return f.plan
	}
	p := f.nextPlans[0]
	f.nextPlans = f.nextPlans[1:]
	return p
}

// takeFault pops the next fault for ep and returns the total delay to add.
func (f *Fake) takeFault(ep Endpoint) (Fault, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var fault Fault
	if q := f.faults[ep]; len(q) > 0 {
		fault, f.faults[ep] = q[0], q[1:]
	}
	delay := fault.Delay + f.latency[AnyEndpoint]
	if ep != AnyEndpoint {
		delay += f.latency[ep]
	}
	return fault, delay
}

// rateLimitHeaders spends one request of the budget and sets the headers.
func (f *Fake) rateLimitHeaders(h http.Header, exhausted bool) {
	f.mu.Lock()
	if exhausted {
		f.remaining = 0
	} else if f.remaining > 0 {
		f.remaining--
	}
	remaining := f.remaining
	f.mu.Unlock()
	// The budget refills one request per second.
	reset := time.Now().Add(time.Duration(DefaultRateLimit-remaining) * time.Second)
	h.Set("RateLimit-Limit", strconv.Itoa(DefaultRateLimit))
	h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
}

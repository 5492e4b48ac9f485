package hetzner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// RateLimit is the API's request budget as the last response reported it
// (RateLimit-* headers). The zero value means no response carried them.
type RateLimit struct {
	Limit     int       // requests per hour
	Remaining int       // requests left
	Reset     time.Time // when the budget is full again
}

// Known reports whether a response carried rate-limit headers.
func (r RateLimit) Known() bool { return r.Limit > 0 }

// RateLimitError is an API call that failed because the project's rate
// limit was exhausted, after hcloud-go's own retries.
type RateLimitError struct {
	RateLimit RateLimit
	Err       error
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limit exhausted (%d/%d left, full again at %s): %v",
		e.RateLimit.Remaining, e.RateLimit.Limit, e.RateLimit.Reset.Format(time.RFC3339), e.Err)
}

func (e *RateLimitError) Unwrap() error { return e.Err }

// RetryAfter is the shortest wait before a request has a chance again: the
// budget refills one request per second. Callers that poll should back
// off further, since other clients of the project compete for the budget.
func (e *RateLimitError) RetryAfter() time.Duration { return time.Second }

// callStats collects what the transport sees during one API call (all its
// HTTP requests, retries included). It travels in the request context.
type callStats struct {
	mu          sync.Mutex
	requests    int
	rateLimited int
	rateLimit   RateLimit
}

type statsKey struct{}

func withStats(ctx context.Context) (context.Context, *callStats) {
	st := &callStats{}
	return context.WithValue(ctx, statsKey{}, st), st
}

func (st *callStats) snapshot() (requests, rateLimited int, rl RateLimit) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.requests, st.rateLimited, st.rateLimit
}

func (st *callStats) record(resp *http.Response) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.requests++
	if resp == nil {
		return
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		st.rateLimited++
	}
	if rl, ok := parseRateLimit(resp.Header); ok {
		st.rateLimit = rl
	}
}

func parseRateLimit(h http.Header) (RateLimit, bool) {
	limit, err1 := strconv.Atoi(h.Get("RateLimit-Limit"))
	remaining, err2 := strconv.Atoi(h.Get("RateLimit-Remaining"))
	reset, err3 := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return RateLimit{}, false
	}
	return RateLimit{Limit: limit, Remaining: remaining, Reset: time.Unix(reset, 0)}, true
}

// statsTransport counts requests and reads rate-limit headers into the
// callStats of the request's context, and logs every 429 (hcloud-go
// retries those silently).
type statsTransport struct {
	next http.RoundTripper
	log  *zap.Logger
}

func (t *statsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if st, ok := req.Context().Value(statsKey{}).(*callStats); ok {
		st.record(resp)
	}
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		rl, _ := parseRateLimit(resp.Header)
		t.log.Warn("Hetzner API rate limit exceeded, backing off",
			zap.String("method", req.Method), zap.String("path", req.URL.Path),
			zap.Int("ratelimit_remaining", rl.Remaining), zap.Int("ratelimit_limit", rl.Limit),
			zap.Time("ratelimit_reset", rl.Reset))
	}
	return resp, err
}

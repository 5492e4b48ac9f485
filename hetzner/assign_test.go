package hetzner_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

func TestAssignMakesNoRequestBeforeTheAssign(t *testing.T) {
	f := hetznertest.New(t)
	c, logs := newClient(t, f)

	res, err := c.Assign(t.Context(), fip, me)
	if err != nil {
		t.Fatalf("Assign: %v", err)
	}
	wantEndpoints(t, f, epAssign, epPoll, epGet)
	if got := f.Owner(fip); got != me {
		t.Errorf("owner = %d, want %d", got, me)
	}
	if res.Requests != 3 || res.Retries != 0 || res.ActionID == 0 {
		t.Errorf("result = %+v, want 3 requests, no retry, an action ID", res)
	}
	if res.Accepted <= 0 || res.Total < res.Accepted {
		t.Errorf("durations: accepted %v, total %v", res.Accepted, res.Total)
	}
	if rl := res.RateLimit; rl.Limit != hetznertest.DefaultRateLimit || rl.Remaining != hetznertest.DefaultRateLimit-3 {
		t.Errorf("rate limit = %+v, want %d of %d left", rl, hetznertest.DefaultRateLimit-3, hetznertest.DefaultRateLimit)
	}
	for _, r := range f.Requests() {
		if !r.Authorized {
			t.Errorf("%s was sent without the token", r)
		}
	}
	noSecret(t, nil, logs)
}

func TestAssignPollsUntilTheActionEnds(t *testing.T) {
	f := hetznertest.New(t)
	f.PlanActions(hetznertest.ActionPlan{RunningPolls: 3})
	c, _ := newClient(t, f)

	if _, err := c.Assign(t.Context(), fip, me); err != nil {
		t.Fatalf("Assign: %v", err)
	}
	wantEndpoints(t, f, seq([]hetznertest.Endpoint{epAssign}, repeat(4, epPoll), []hetznertest.Endpoint{epGet})...)
}

func TestAssignRetriesLocked(t *testing.T) {
	for _, fault := range []hetznertest.Fault{hetznertest.Locked(), hetznertest.ResourceLocked()} {
		t.Run(fault.Code, func(t *testing.T) {
			f := hetznertest.New(t)
			f.Inject(epAssign, 3, fault)
			c, logs := newClient(t, f)

			res, err := c.Assign(t.Context(), fip, me)
			if err != nil {
				t.Fatalf("Assign: %v", err)
			}
			wantEndpoints(t, f, seq(repeat(4, epAssign), []hetznertest.Endpoint{epPoll, epGet})...)
			if res.Retries != 3 || res.Requests != 6 {
				t.Errorf("result = %+v, want 3 retries and 6 requests", res)
			}
			if n := logs.FilterMessage("assign not accepted yet, retrying").Len(); n != 3 {
				t.Errorf("%d retry log lines, want 3", n)
			}
		})
	}
}

func TestAssignServerErrorsAreRetried(t *testing.T) {
	// 502 and 504 are hcloud-go's to retry, 500 and 503 the client's own.
	for _, status := range []int{http.StatusBadGateway, http.StatusGatewayTimeout, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := hetznertest.New(t)
			f.Inject(epAssign, 2, hetznertest.ServerError(status))
			c, _ := newClient(t, f)

			if _, err := c.Assign(t.Context(), fip, me); err != nil {
				t.Fatalf("Assign: %v", err)
			}
			wantEndpoints(t, f, seq(repeat(3, epAssign), []hetznertest.Endpoint{epPoll, epGet})...)
		})
	}
}

func TestAssignRateLimitedIsRetriedAndLogged(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(epAssign, 2, hetznertest.RateLimited())
	c, logs := newClient(t, f)

	res, err := c.Assign(t.Context(), fip, me)
	if err != nil {
		t.Fatalf("Assign: %v", err)
	}
	wantEndpoints(t, f, seq(repeat(3, epAssign), []hetznertest.Endpoint{epPoll, epGet})...)
	if res.RateLimited != 2 {
		t.Errorf("RateLimited = %d, want 2", res.RateLimited)
	}
	if n := logs.FilterMessage("Hetzner API rate limit exceeded, backing off").Len(); n != 2 {
		t.Errorf("%d rate-limit log lines, want 2", n)
	}
}

func TestAssignSlowResponseTimesOutAndIsRetried(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(epAssign, 1, hetznertest.Slow(time.Minute))
	c, _ := newClient(t, f, func(cfg *hetzner.Config) { cfg.RequestTimeout = time.Second })

	if _, err := c.Assign(t.Context(), fip, me); err != nil {
		t.Fatalf("Assign: %v", err)
	}
	wantEndpoints(t, f, epAssign, epAssign, epPoll, epGet)
	if st := f.Requests()[0].Status; st != 0 {
		t.Errorf("the slow request was answered (%d); the client should have given up", st)
	}
}

func TestAssignStopsAtTheDeadline(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(epAssign, 1_000_000, hetznertest.Locked())
	c, _ := newClient(t, f, func(cfg *hetzner.Config) {
		cfg.Deadline = time.Second
		cfg.LockedBackoff = 20 * time.Millisecond
	})

	res, err := c.Assign(t.Context(), fip, me)
	if !errors.Is(err, context.DeadlineExceeded) || !hcloud.IsError(err, hcloud.ErrorCodeLocked) {
		t.Fatalf("epAssign = %v, want the deadline with the last locked answer", err)
	}
	if f.Owner(fip) != peer || res.Retries == 0 || res.Accepted != 0 {
		t.Errorf("owner %d, result %+v: want nothing moved, retries made, never accepted", f.Owner(fip), res)
	}
	if f.Count(epGet) != 0 {
		t.Error("verified an assign that never happened")
	}
}

func TestAssignCallerDeadlineWins(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(epAssign, 1, hetznertest.Slow(time.Minute))
	c, _ := newClient(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()

	if _, err := c.Assign(ctx, fip, me); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("epAssign = %v, want the caller's deadline", err)
	}
}

func TestAssignActionEndsInError(t *testing.T) {
	f := hetznertest.New(t)
	f.PlanActions(hetznertest.ActionPlan{RunningPolls: 1, ErrorCode: "floating_ip_assign_failed", ErrorMessage: "assign failed"})
	c, _ := newClient(t, f)

	_, err := c.Assign(t.Context(), fip, me)
	var actionErr hcloud.ActionError
	if !errors.As(err, &actionErr) || actionErr.Code != "floating_ip_assign_failed" {
		t.Fatalf("epAssign = %v, want the action's error", err)
	}
	wantEndpoints(t, f, epAssign, epPoll, epPoll)
	if f.Owner(fip) != peer {
		t.Error("the Floating IP moved although the action failed")
	}
}

func TestAssignVerifySeesAnotherServer(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(epGet, 1, hetznertest.GrabBefore(fip, hetznertest.ThirdServer))
	c, _ := newClient(t, f)

	_, err := c.Assign(t.Context(), fip, me)
	if !errors.Is(err, hetzner.ErrNotAssigned) {
		t.Fatalf("epAssign = %v, want ErrNotAssigned", err)
	}
	wantEndpoints(t, f, epAssign, epPoll, epGet)
}

func TestAssignUnauthorizedIsNotRetriedAndHidesTheToken(t *testing.T) {
	f := hetznertest.New(t)
	c, logs := newClient(t, f)
	f.RequireToken("another-token")

	_, err := c.Assign(t.Context(), fip, me)
	if !hcloud.IsError(err, hcloud.ErrorCodeUnauthorized) {
		t.Fatalf("epAssign = %v, want unauthorized", err)
	}
	wantEndpoints(t, f, epAssign)
	noSecret(t, err, logs)
}

func TestAssignUnknownServerIsNotRetried(t *testing.T) {
	f := hetznertest.New(t)
	c, _ := newClient(t, f)

	if _, err := c.Assign(t.Context(), fip, 999); !hcloud.IsError(err, hcloud.ErrorCodeInvalidInput) {
		t.Fatalf("epAssign = %v, want invalid_input", err)
	}
	wantEndpoints(t, f, epAssign)
}

func TestAssignRetriesADroppedConnection(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(epAssign, 2, hetznertest.Dropped())
	c, _ := newClient(t, f)

	if _, err := c.Assign(t.Context(), fip, me); err != nil {
		t.Fatalf("Assign: %v", err)
	}
	wantEndpoints(t, f, seq(repeat(3, epAssign), []hetznertest.Endpoint{epPoll, epGet})...)
}

// TestAssignVerifyingGETIsRetried: a 5xx on the verifying GET after a
// successful assign is tried again within the deadline, like the assign
// itself, instead of reporting the failover failed.
func TestAssignVerifyingGETIsRetried(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusBadGateway} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := hetznertest.New(t)
			f.Inject(epGet, 2, hetznertest.ServerError(status))
			c, logs := newClient(t, f)

			if _, err := c.Assign(t.Context(), fip, me); err != nil {
				t.Fatalf("Assign: %v", err)
			}
			wantEndpoints(t, f, epAssign, epPoll, epGet, epGet, epGet)
			if f.Owner(fip) != me {
				t.Errorf("owner = %d, want %d", f.Owner(fip), me)
			}
			if n := logs.FilterMessage("verifying the assign failed, trying again").Len(); status != http.StatusBadGateway && n != 2 {
				t.Errorf("%d retry log lines, want 2", n)
			}
		})
	}
}

// TestAssignVerifyingGETStopsAtTheDeadline: a GET that keeps failing
// ends at the deadline with the last error.
func TestAssignVerifyingGETStopsAtTheDeadline(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(epGet, 1_000_000, hetznertest.ServerError(http.StatusServiceUnavailable))
	c, _ := newClient(t, f, func(cfg *hetzner.Config) { cfg.Deadline = 300 * time.Millisecond })

	_, err := c.Assign(t.Context(), fip, me)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Assign: %v, want the deadline", err)
	}
	t.Logf("%v after %d requests", err, len(f.Requests()))
	if n := len(f.Requests()); n > 1000 {
		t.Errorf("%d requests within 300 ms: the retries do not back off", n)
	}
}

package hetzner_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

func TestOwnerIsOneGet(t *testing.T) {
	f := hetznertest.New(t)
	c, _ := newClient(t, f)

	got, err := c.Owner(t.Context(), fip)
	if err != nil || got != peer {
		t.Fatalf("Owner = %d, %v; want %d", got, err, peer)
	}
	wantEndpoints(t, f, epGet)

	f.Grab(fip, hetznertest.ThirdServer)
	if got, _ := c.Owner(t.Context(), fip); got != hetznertest.ThirdServer {
		t.Errorf("Owner after a grab = %d, want %d", got, hetznertest.ThirdServer)
	}
	f.Grab(fip, 0)
	if got, err := c.Owner(t.Context(), fip); got != 0 || err != nil {
		t.Errorf("Owner of an unassigned IP = %d, %v; want 0, nil", got, err)
	}
}

func TestOwnerUnknownFloatingIP(t *testing.T) {
	f := hetznertest.New(t)
	c, _ := newClient(t, f)

	if _, err := c.Owner(t.Context(), 42); !errors.Is(err, hetzner.ErrFloatingIPNotFound) {
		t.Fatalf("Owner = %v, want ErrFloatingIPNotFound", err)
	}
}

func TestOwnerRateLimitExhausted(t *testing.T) {
	f := hetznertest.New(t)
	f.Inject(epGet, 100, hetznertest.RateLimited())
	c, _ := newClient(t, f, func(cfg *hetzner.Config) { cfg.MaxRetries = 2 })

	_, err := c.Owner(t.Context(), fip)
	var rlErr *hetzner.RateLimitError
	if !errors.As(err, &rlErr) {
		t.Fatalf("Owner = %v, want a *RateLimitError", err)
	}
	if rlErr.RateLimit.Remaining != 0 || rlErr.RetryAfter() < time.Second {
		t.Errorf("rate limit error = %+v, retry after %v", rlErr.RateLimit, rlErr.RetryAfter())
	}
	wantEndpoints(t, f, repeat(3, epGet)...) // the try and hcloud-go's 2 retries
}

func TestLowRateLimitIsLogged(t *testing.T) {
	f := hetznertest.New(t)
	f.SetRateLimitRemaining(50)
	c, logs := newClient(t, f)

	if _, err := c.Owner(t.Context(), fip); err != nil {
		t.Fatal(err)
	}
	lines := logs.FilterMessage("Hetzner API rate limit running low").All()
	if len(lines) != 1 || lines[0].ContextMap()["ratelimit_remaining"] != int64(49) {
		t.Errorf("log lines = %v, want one warning with 49 left", lines)
	}
}

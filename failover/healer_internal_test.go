package failover

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
)

type rateLimited struct{}

func (rateLimited) Error() string             { return "rate limited" }
func (rateLimited) RetryAfter() time.Duration { return time.Second }

func TestHealerBacksOffOnRateLimits(t *testing.T) {
	h := NewHealer(HealerConfig{Interval: 30 * time.Second, MaxBackoff: 5 * time.Minute}, nil, zap.NewNop())
	for i, want := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		if got := h.next(rateLimited{}); got != want {
			t.Errorf("wait after %d rate-limited checks = %v, want %v", i+1, got, want)
		}
	}
	if got := h.next(errors.New("other")); got != 30*time.Second {
		t.Errorf("wait after another error = %v, want the interval", got)
	}
	if got := h.next(rateLimited{}); got != 30*time.Second {
		t.Errorf("wait after a new rate limit = %v, want the interval again", got)
	}
}

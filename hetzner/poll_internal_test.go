package hetzner

import (
	"testing"
	"time"
)

// TestPollBackoffBoundsRequests: an assign action is polled every 50 ms
// while it usually completes, so a failover learns its end within 50 ms;
// one that runs until notify's 30 s deadline costs under a hundred polls.
func TestPollBackoffBoundsRequests(t *testing.T) {
	b := pollBackoff(DefaultPollInterval)
	if got := b(0); got != DefaultPollInterval {
		t.Errorf("first poll after %s, want %s", got, DefaultPollInterval)
	}
	elapsed, polls := time.Duration(0), 0
	for elapsed < pollFastFor {
		if w := b(polls); w != DefaultPollInterval {
			t.Fatalf("poll %d (at %s) waits %s, want %s for the first %s", polls, elapsed, w, DefaultPollInterval, pollFastFor)
		}
		elapsed += b(polls)
		polls++
	}
	for elapsed < DefaultDeadline {
		elapsed += b(polls)
		polls++
	}
	if polls > 100 {
		t.Errorf("%d polls for an action that runs until the %s deadline, want under 100", polls, DefaultDeadline)
	}
}

package hetzner

import (
	"context"
	"errors"
	"fmt"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"go.uber.org/zap"
)

// Owner returns the ID of the server the Floating IP points to, 0 when it
// is unassigned. It makes one GET /floating_ips/{id} (more only when
// hcloud-go retries it) and never runs past Config.Deadline. Errors wrap
// ErrFloatingIPNotFound, *RateLimitError, hcloud.Error or the context's
// error.
func (c *Client) Owner(ctx context.Context, floatingIPID int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	ctx, st := withStats(ctx)
	owner, err := c.owner(ctx, floatingIPID)
	_, _, rl := st.snapshot()
	c.warnLowRateLimit(rl)
	if err != nil {
		return 0, c.wrap(ctx, st, fmt.Sprintf("looking up floating IP %d", floatingIPID), err)
	}
	return owner, nil
}

func (c *Client) owner(ctx context.Context, floatingIPID int64) (int64, error) {
	owner, _, err := c.ownerResp(ctx, floatingIPID)
	return owner, err
}

// ownerResp is owner with the API's response, for retry decisions.
func (c *Client) ownerResp(ctx context.Context, floatingIPID int64) (int64, *hcloud.Response, error) {
	fip, resp, err := c.api.FloatingIP.GetByID(ctx, floatingIPID)
	switch {
	case err != nil:
		return 0, resp, err
	case fip == nil:
		return 0, resp, fmt.Errorf("%w: %d", ErrFloatingIPNotFound, floatingIPID)
	case fip.Server == nil:
		return 0, resp, nil
	}
	return fip.Server.ID, resp, nil
}

// wrap adds op and, when it was the reason, the context's error (hcloud-go
// returns the last API error when the context ends during a retry wait),
// and turns an exhausted rate limit into a *RateLimitError.
func (c *Client) wrap(ctx context.Context, st *callStats, op string, err error) error {
	if hcloud.IsError(err, hcloud.ErrorCodeRateLimitExceeded) {
		_, _, rl := st.snapshot()
		err = &RateLimitError{RateLimit: rl, Err: err}
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%s: %w (last error: %w)", op, ctxErr, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// warnLowRateLimit logs when the project's request budget runs low.
func (c *Client) warnLowRateLimit(rl RateLimit) {
	if rl.Known() && rl.Remaining < c.cfg.LowRateLimit {
		c.log.Warn("Hetzner API rate limit running low",
			zap.Int("ratelimit_remaining", rl.Remaining), zap.Int("ratelimit_limit", rl.Limit),
			zap.Time("ratelimit_reset", rl.Reset))
	}
}

package hetzner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"go.uber.org/zap"
)

// ErrNotAssigned means the verifying GET found the Floating IP pointing to
// another server (or to none) after the assign action succeeded.
var ErrNotAssigned = errors.New("floating IP does not point to this server")

// ErrFloatingIPNotFound means the API does not know the Floating IP ID.
var ErrFloatingIPNotFound = errors.New("floating IP not found")

// Result is what one Assign did. It is filled in on failure too, as far
// as the call got.
type Result struct {
	FloatingIPID int64
	ServerID     int64
	ActionID     int64
	// Accepted is the time from the start of Assign until the API accepted
	// the assign request; Total until the verifying GET confirmed it (or
	// until the failure).
	Accepted time.Duration
	Total    time.Duration
	// Requests counts every HTTP request, retries and polls included.
	Requests int
	// Retries counts assigns refused as locked (or with a 5xx or a
	// network error) and sent again; RateLimited counts 429 answers.
	Retries     int
	RateLimited int
	// RateLimit is the budget the last response reported.
	RateLimit RateLimit
}

// Assign points the Floating IP to the server and returns once the API has
// confirmed it. It makes exactly these requests, and none before the
// assign:
//
//  1. POST /floating_ips/{id}/actions/assign, sent again while the API
//     answers locked or resource_locked (or a 5xx, or the network fails),
//     with a short doubling backoff; hcloud-go itself retries rate limits,
//     conflicts, bad gateways and timeouts;
//  2. GET /actions?id=... every Config.PollInterval while the action runs
//     (none when the answer already reports it finished);
//  3. GET /floating_ips/{id} to verify that it points to serverID.
//
// Assign never runs past Config.Deadline, nor past ctx's deadline when
// that is earlier. Errors wrap ErrNotAssigned, ErrFloatingIPNotFound,
// hcloud.ActionError (the action ended in error), *RateLimitError,
// hcloud.Error or the context's error.
func (c *Client) Assign(ctx context.Context, floatingIPID, serverID int64) (Result, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	ctx, st := withStats(ctx)
	res := Result{FloatingIPID: floatingIPID, ServerID: serverID}

	err := c.assignVerified(ctx, &res, start)
	res.Total = time.Since(start)
	res.Requests, res.RateLimited, res.RateLimit = st.snapshot()
	c.warnLowRateLimit(res.RateLimit)
	if err != nil {
		return res, c.wrap(ctx, st, fmt.Sprintf("assigning floating IP %d to server %d", floatingIPID, serverID), err)
	}
	return res, nil
}

func (c *Client) assignVerified(ctx context.Context, res *Result, start time.Time) error {
	action, err := c.postAssign(ctx, res)
	if err != nil {
		return err
	}
	res.Accepted = time.Since(start)
	res.ActionID = action.ID
	if err := c.waitAction(ctx, action); err != nil {
		return err
	}
	return c.verify(ctx, res.FloatingIPID, res.ServerID)
}

// postAssign sends the assign until the API accepts it, retrying what
// hcloud-go does not.
func (c *Client) postAssign(ctx context.Context, res *Result) (*hcloud.Action, error) {
	fip, srv := &hcloud.FloatingIP{ID: res.FloatingIPID}, &hcloud.Server{ID: res.ServerID}
	return c.postRetrying(ctx, res, "assign", func() (*hcloud.Action, *hcloud.Response, error) {
		return c.api.FloatingIP.Assign(ctx, fip, srv)
	})
}

// postRetrying sends a POST that starts an action (what names it in logs)
// until the API accepts it: it is sent again, with a short doubling
// backoff, while the API answers locked or resource_locked (or a 5xx, or
// the network fails); hcloud-go itself retries rate limits, conflicts,
// bad gateways and timeouts. Each retry counts in res.Retries.
func (c *Client) postRetrying(ctx context.Context, res *Result, what string, post func() (*hcloud.Action, *hcloud.Response, error)) (*hcloud.Action, error) {
	wait := c.cfg.LockedBackoff
	for {
		action, resp, err := post()
		if err == nil {
			return action, nil
		}
		if ctx.Err() != nil || !retryable(resp, err) {
			return nil, err
		}
		res.Retries++
		fields := []zap.Field{zap.Int("retry", res.Retries), zap.Duration("wait", wait), zap.Error(err)}
		if res.FloatingIPID != 0 {
			fields = append(fields, zap.Int64("floating_ip", res.FloatingIPID))
		}
		c.log.Info(what+" not accepted yet, retrying", fields...)
		if sleep(ctx, wait) != nil {
			return nil, err
		}
		wait = min(2*wait, maxLockedBackoff)
	}
}

// retryable reports whether a request that failed this way may be sent
// again: the API was locked or failed (5xx), or no answer came at all.
// Assigning is idempotent and a GET only reads, so a request that may
// have reached the API is safe to repeat.
func retryable(resp *hcloud.Response, err error) bool {
	if hcloud.IsError(err, hcloud.ErrorCodeLocked, hcloud.ErrorCodeResourceLocked,
		hcloud.ErrorCodeServiceError, hcloud.ErrorCodeServerError, hcloud.ErrorCodeMaintenance) {
		return true
	}
	if resp != nil && resp.Response != nil && resp.StatusCode >= 500 {
		return true
	}
	// No answer at all: the connection failed or was cut. (Certificate
	// errors and the like are not retried.)
	var opErr *net.OpError
	return errors.As(err, &opErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// waitAction polls until the action ends. A failed poll (as opposed to a
// failed action) is tried again until the deadline.
func (c *Client) waitAction(ctx context.Context, action *hcloud.Action) error {
	for {
		err := c.api.Action.WaitFor(ctx, action)
		var actionErr hcloud.ActionError
		if err == nil || errors.As(err, &actionErr) || ctx.Err() != nil {
			return err
		}
		c.log.Info("polling the assign action failed, polling again",
			zap.Int64("action", action.ID), zap.Error(err))
		if sleep(ctx, c.cfg.PollInterval) != nil {
			return err
		}
	}
}

// verify checks with a GET that the Floating IP points to serverID. The
// GET is sent again, with the assign's doubling backoff, while it fails
// as a retryable assign does (a 5xx, no answer): the failover has
// happened, and one failed read must not report it failed.
func (c *Client) verify(ctx context.Context, floatingIPID, serverID int64) error {
	wait := c.cfg.LockedBackoff
	var owner int64
	for attempt := 1; ; attempt++ {
		var resp *hcloud.Response
		var err error
		owner, resp, err = c.ownerResp(ctx, floatingIPID)
		if err == nil {
			break
		}
		if ctx.Err() != nil || !retryable(resp, err) {
			return fmt.Errorf("verifying: %w", err)
		}
		c.log.Info("verifying the assign failed, trying again",
			zap.Int64("floating_ip", floatingIPID), zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(err))
		if sleep(ctx, wait) != nil {
			return fmt.Errorf("verifying: %w", err)
		}
		wait = min(2*wait, maxLockedBackoff)
	}
	switch {
	case owner == 0:
		return fmt.Errorf("verifying: %w: it is unassigned", ErrNotAssigned)
	case owner != serverID:
		return fmt.Errorf("verifying: %w: it points to server %d", ErrNotAssigned, owner)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

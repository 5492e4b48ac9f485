package hetzner

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"go.uber.org/zap"
)

// ErrNotRouted means the verifying GET found the network's route for the
// destination leading elsewhere (or missing) after the move.
var ErrNotRouted = fmt.Errorf("%w: the network's route leads elsewhere", ErrNotAssigned)

// maxRouteRounds bounds how often MoveRoute starts over when another
// change of the route came between its own.
const maxRouteRounds = 3

// Network returns the network named by network (a name, or an ID in
// digits). It makes one GET and never runs past Config.Deadline.
func (c *Client) Network(ctx context.Context, network string) (*hcloud.Network, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	ctx, st := withStats(ctx)
	n, _, err := c.network(ctx, network)
	if err != nil {
		return nil, c.wrap(ctx, st, "looking up network "+network, err)
	}
	return n, nil
}

func (c *Client) network(ctx context.Context, network string) (*hcloud.Network, *hcloud.Response, error) {
	n, resp, err := c.api.Network.Get(ctx, network)
	if err == nil && n == nil {
		err = fmt.Errorf("%w: %s", ErrNetworkNotFound, network)
	}
	return n, resp, err
}

// RouteGateway returns the gateway of network's route for destination,
// the zero Addr when there is none: one GET, as Network.
func (c *Client) RouteGateway(ctx context.Context, network string, destination netip.Prefix) (netip.Addr, error) {
	n, err := c.Network(ctx, network)
	if err != nil {
		return netip.Addr{}, err
	}
	return gatewayOf(n, destination), nil
}

// gatewayOf is the gateway of n's route for destination; the zero Addr
// when n has none.
func gatewayOf(n *hcloud.Network, destination netip.Prefix) netip.Addr {
	for _, r := range n.Routes {
		if r.Destination == nil {
			continue
		}
		ones, _ := r.Destination.Mask.Size()
		d, ok := netip.AddrFromSlice(r.Destination.IP)
		if ok && netip.PrefixFrom(d.Unmap(), ones) == destination {
			gw, _ := netip.AddrFromSlice(r.Gateway)
			return gw.Unmap()
		}
	}
	return netip.Addr{}
}

// MoveRoute points network's route for destination to gateway and returns
// once a GET confirms it. A network holds one route per destination, so a
// route to another gateway is deleted first and the new one added after
// that action ended: there is never a moment with two routes for the
// destination, and no route from the deletion until the addition ends.
// It makes these requests:
//
//  1. GET the network (by name: GET /networks?name=...), for the route;
//     nothing more when it already leads to gateway;
//  2. POST delete_route of the old route, polled until it ends;
//  3. POST add_route, polled until it ends;
//  4. GET the network to verify.
//
// The POSTs are sent again as an assign is while the API answers locked
// or fails; a route that another change deleted or added meanwhile makes
// it start over from 1, at most maxRouteRounds times. It never runs past
// Config.Deadline, nor past ctx's deadline when that is earlier. Errors
// wrap ErrNetworkNotFound, ErrNotRouted (and with it ErrNotAssigned),
// hcloud.ActionError, *RateLimitError, hcloud.Error or the context's error.
func (c *Client) MoveRoute(ctx context.Context, network string, destination netip.Prefix, gateway netip.Addr) (Result, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	ctx, st := withStats(ctx)
	var res Result
	err := c.moveRoute(ctx, &res, network, destination, gateway, start)
	res.Total = time.Since(start)
	res.Requests, res.RateLimited, res.RateLimit = st.snapshot()
	c.warnLowRateLimit(res.RateLimit)
	if err != nil {
		return res, c.wrap(ctx, st, fmt.Sprintf("routing %s of network %s to %s", destination, network, gateway), err)
	}
	return res, nil
}

func (c *Client) moveRoute(ctx context.Context, res *Result, network string, destination netip.Prefix, gateway netip.Addr, start time.Time) error {
	var lastErr error
	removed := false // this run deleted the old route
	for round := 1; ; round++ {
		n, err := c.readNetwork(ctx, network)
		if err != nil {
			return err
		}
		current := gatewayOf(n, destination)
		if current == gateway {
			return nil // it led here already, or the last round's move is verified
		}
		if round > maxRouteRounds {
			switch {
			case lastErr != nil && !current.IsValid():
				return fmt.Errorf("%w; %s has no route now (the healer adds it at its next check)", lastErr, destination)
			case lastErr != nil:
				return lastErr
			}
			return fmt.Errorf("verifying: %w: to %s", ErrNotRouted, gatewayText(current))
		}
		var deleted bool
		deleted, lastErr = c.reroute(ctx, res, n, destination, current, gateway, start)
		removed = removed || deleted
		switch {
		case lastErr == nil:
		case routeRaced(lastErr):
			c.log.Info("the route changed meanwhile, starting over",
				zap.Stringer("destination", destination), zap.Int("round", round), zap.Error(lastErr))
		case removed:
			// Stopping here would leave the address with no route at all:
			// the next round finds none and only adds.
			c.log.Warn("the old route is deleted but the new one failed: the address has no route; adding it again",
				zap.Stringer("destination", destination), zap.Int("round", round), zap.Error(lastErr))
		default:
			return lastErr
		}
	}
}

func gatewayText(gw netip.Addr) string {
	if !gw.IsValid() {
		return "nowhere (there is no route)"
	}
	return gw.String()
}

// reroute deletes the route to current (when there is one), then adds the
// route to gateway, waiting for each action to end. deleted says that the
// old route is gone, whatever became of the new one.
func (c *Client) reroute(ctx context.Context, res *Result, n *hcloud.Network, destination netip.Prefix, current, gateway netip.Addr, start time.Time) (deleted bool, err error) {
	if current.IsValid() {
		old := hcloud.NetworkRoute{Destination: ipNet(destination), Gateway: net.IP(current.AsSlice())}
		action, err := c.postRetrying(ctx, res, "delete_route", func() (*hcloud.Action, *hcloud.Response, error) {
			return c.api.Network.DeleteRoute(ctx, n, hcloud.NetworkDeleteRouteOpts{Route: old})
		})
		if err != nil {
			return false, fmt.Errorf("deleting the route to %s: %w", current, err)
		}
		if err := c.waitAction(ctx, action); err != nil {
			return false, fmt.Errorf("deleting the route to %s: %w", current, err)
		}
		deleted = true
	}
	route := hcloud.NetworkRoute{Destination: ipNet(destination), Gateway: net.IP(gateway.AsSlice())}
	action, err := c.postRetrying(ctx, res, "add_route", func() (*hcloud.Action, *hcloud.Response, error) {
		return c.api.Network.AddRoute(ctx, n, hcloud.NetworkAddRouteOpts{Route: route})
	})
	if err != nil {
		return deleted, fmt.Errorf("adding the route to %s: %w", gateway, err)
	}
	res.Accepted, res.ActionID = time.Since(start), action.ID
	if err := c.waitAction(ctx, action); err != nil {
		return deleted, fmt.Errorf("adding the route to %s: %w", gateway, err)
	}
	return deleted, nil
}

// routeRaced reports an error that means another change of the route came
// between the GET and this one: the old route was gone already, or a
// route for the destination was there again.
func routeRaced(err error) bool {
	return hcloud.IsError(err, hcloud.ErrorCodeNotFound, hcloud.ErrorCodeInvalidInput)
}

// readNetwork GETs the network, sent again as the verifying GET of an
// assign is while it fails with a 5xx or no answer.
func (c *Client) readNetwork(ctx context.Context, network string) (*hcloud.Network, error) {
	wait := c.cfg.LockedBackoff
	for attempt := 1; ; attempt++ {
		n, resp, err := c.network(ctx, network)
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil || !retryable(resp, err) {
			return nil, err
		}
		c.log.Info("reading the network failed, trying again",
			zap.String("network", network), zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(err))
		if sleep(ctx, wait) != nil {
			return nil, err
		}
		wait = min(2*wait, maxLockedBackoff)
	}
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

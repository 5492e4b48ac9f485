package hetzner

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// ErrNetworkNotFound means the project has no network of that name or ID.
var ErrNetworkNotFound = errors.New("network not found")

// Server is a server of the project, as backend discovery reads it.
type Server struct {
	ID     int64
	Name   string
	Status string // running, off, starting, ... (hcloud.ServerStatus)
	Labels map[string]string
	// Private holds the server's address in each private network it is
	// attached to, by network ID.
	Private map[int64]netip.Addr
}

// Usage is what one call cost the project's request budget: its HTTP
// requests (every page and retry) and the budget as the last answer
// reported it.
type Usage struct {
	Requests  int
	RateLimit RateLimit
}

// listPerPage is the most servers the API gives in one page.
const listPerPage = 50

// Servers lists every server whose labels match labelSelector (Hetzner's
// syntax, see package selector), all pages of 50, within Config.Deadline.
// Errors wrap *RateLimitError, hcloud.Error or the context's error.
func (c *Client) Servers(ctx context.Context, labelSelector string) ([]Server, Usage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	ctx, st := withStats(ctx)
	list, err := c.api.Server.AllWithOpts(ctx, hcloud.ServerListOpts{
		ListOpts: hcloud.ListOpts{LabelSelector: labelSelector, PerPage: listPerPage},
	})
	use := usage(st)
	c.warnLowRateLimit(use.RateLimit)
	if err != nil {
		return nil, use, c.wrap(ctx, st, fmt.Sprintf("listing the servers with labels %q", labelSelector), err)
	}
	out := make([]Server, 0, len(list))
	for _, s := range list {
		out = append(out, serverOf(s))
	}
	return out, use, nil
}

func serverOf(s *hcloud.Server) Server {
	out := Server{ID: s.ID, Name: s.Name, Status: string(s.Status), Labels: s.Labels, Private: map[int64]netip.Addr{}}
	for _, pn := range s.PrivateNet {
		addr, ok := netip.AddrFromSlice(pn.IP)
		if pn.Network == nil || !ok {
			continue
		}
		out.Private[pn.Network.ID] = addr.Unmap()
	}
	return out
}

// NetworkID returns the ID of the private network nameOrID names: a
// number is taken as the ID without a request, anything else is looked
// up by name (one request). Errors wrap ErrNetworkNotFound,
// *RateLimitError, hcloud.Error or the context's error.
func (c *Client) NetworkID(ctx context.Context, nameOrID string) (int64, Usage, error) {
	if id, err := strconv.ParseInt(nameOrID, 10, 64); err == nil && id > 0 {
		return id, Usage{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	ctx, st := withStats(ctx)
	n, _, err := c.api.Network.GetByName(ctx, nameOrID)
	use := usage(st)
	c.warnLowRateLimit(use.RateLimit)
	switch {
	case err != nil:
		return 0, use, c.wrap(ctx, st, fmt.Sprintf("looking up network %q", nameOrID), err)
	case n == nil:
		return 0, use, fmt.Errorf("looking up network %q: %w", nameOrID, ErrNetworkNotFound)
	}
	return n.ID, use, nil
}

func usage(st *callStats) Usage {
	requests, _, rl := st.snapshot()
	return Usage{Requests: requests, RateLimit: rl}
}

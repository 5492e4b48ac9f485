package serverplan

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hakgen/hakgen/haproxy"
)

// removal is a server to delete.
type removal struct{ backend, server string }

func (r removal) String() string { return r.backend + "/" + r.server }

// remove drains every removed server (no new connection), waits up to
// RemoveGrace for their sessions to end, puts them in maintenance (which
// ends the sessions left of a server with on-marked-down
// shutdown-sessions), shuts down those still left, and deletes them all.
// Waiting for all of them at once bounds the whole wait by RemoveGrace.
func (e Executor) remove(ctx context.Context, rt Runtime, p Plan) error {
	var all []removal
	for _, b := range p.Backends {
		for _, s := range b.Remove {
			all = append(all, removal{b.Backend, s.Name})
		}
	}
	if len(all) == 0 {
		return nil
	}
	for _, c := range p.drainCommands() {
		if err := rt.Run(ctx, c); err != nil {
			return err
		}
	}
	grace := e.RemoveGrace
	if grace == 0 {
		grace = DefaultRemoveGrace
	}
	left, err := e.waitSessions(ctx, rt, all, max(grace, 0))
	if err != nil {
		return err
	}
	for _, c := range p.maintCommands() {
		if err := rt.Run(ctx, c); err != nil {
			return err
		}
	}
	if len(left) > 0 {
		// Maintenance ended the sessions of a server with on-marked-down
		// shutdown-sessions; the others are shut down.
		if left, err = e.waitSessions(ctx, rt, left, maintWait); err != nil {
			return err
		}
		for _, r := range left {
			if err := rt.Run(ctx, haproxy.ShutdownSessions(r.backend, r.server)); err != nil {
				return err
			}
		}
		if left, err = e.waitSessions(ctx, rt, left, shutdownWait); err != nil {
			return err
		}
		if len(left) > 0 {
			// HAProxy ignores `shutdown sessions` for a session whose
			// client has closed its side: it ends with timeout server-fin
			// (or tunnel) when the server does not close.
			return fmt.Errorf("sessions of %s still open %s after shutdown sessions (a half-closed session ends only by timeout server-fin or tunnel): the servers cannot be deleted", names(left), shutdownWait)
		}
	}
	for _, c := range p.delCommands() {
		if err := rt.Run(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// waitSessions polls the session counts of servers until none has a
// session or bound has passed, and returns those that still have one.
func (e Executor) waitSessions(ctx context.Context, rt Runtime, servers []removal, bound time.Duration) ([]removal, error) {
	interval := e.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	deadline := time.Now().Add(bound)
	for polls := int(bound/interval) + 1; ; polls-- {
		left, err := withSessions(ctx, rt, servers)
		if err != nil || len(left) == 0 || polls <= 0 || !time.Now().Before(deadline) {
			return left, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the sessions of %s to end: %w", names(left), ctx.Err())
		case <-time.After(interval):
		}
		servers = left
	}
}

// withSessions returns the servers that have a session open, reading each
// backend's counts once.
func withSessions(ctx context.Context, rt Runtime, servers []removal) ([]removal, error) {
	counts := map[string]map[string]int{}
	var left []removal
	for _, r := range servers {
		c, ok := counts[r.backend]
		if !ok {
			var err error
			if c, err = rt.ServerSessions(ctx, r.backend); err != nil {
				return nil, fmt.Errorf("counting sessions of backend %s: %w", r.backend, err)
			}
			counts[r.backend] = c
		}
		if c[r.server] > 0 {
			left = append(left, r)
		}
	}
	return left, nil
}

func names(rs []removal) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

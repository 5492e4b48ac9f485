package serverplan

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/hakgen/hakgen/haproxy"
)

// ErrNoSuchServer is returned by Drain and Undrain when no backend of the
// worker has the server.
var ErrNoSuchServer = errors.New("no backend of the running haproxy has this server")

// placesOf returns the state of server name in every backend of rt that
// has it, in backend order.
func placesOf(ctx context.Context, rt Runtime, name string) ([]haproxy.ServerState, error) {
	states, err := rt.ServersState(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("reading the servers: %w", err)
	}
	var out []haproxy.ServerState
	for _, s := range states {
		if s.Name == name {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("server %s: %w (see show servers state)", name, ErrNoSuchServer)
	}
	return out, nil
}

// Drain sends server name no new connection from the worker rt, in every
// backend that has it (`set server B/N state drain`): its established
// connections stay. It returns the backends where it is drained now, and
// skipped, those where it is in maintenance and left so (a drain would end
// the maintenance).
//
// The drain lasts until Undrain, or until a change of the server in the
// configuration (see Executor.Apply and CarryServerState); the
// server-state file carries it over a reload once saved.
func Drain(ctx context.Context, rt Runtime, name string) (drained, skipped []string, err error) {
	places, err := placesOf(ctx, rt, name)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range places {
		if s.Admin.Maint() {
			skipped = append(skipped, s.Backend)
			continue
		}
		if err := rt.Run(ctx, haproxy.SetServerState(s.Backend, name, haproxy.StateDrain)); err != nil {
			return drained, skipped, fmt.Errorf("draining %s/%s: %w", s.Backend, name, err)
		}
		drained = append(drained, s.Backend)
	}
	return drained, skipped, nil
}

// Undrain ends a drain set by Drain (`set server B/N state ready`) in every
// backend where server name has one, and returns those backends, and
// weightless, those where it still takes no new connection because its
// weight is 0 (drain: true or weight: 0 in the state).
func Undrain(ctx context.Context, rt Runtime, name string) (undrained, weightless []string, err error) {
	places, err := placesOf(ctx, rt, name)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range places {
		if s.Weight == 0 {
			weightless = append(weightless, s.Backend)
		}
		if s.Admin&haproxy.AdminForcedDrain == 0 || s.Admin.Maint() {
			continue
		}
		if err := rt.Run(ctx, haproxy.SetServerState(s.Backend, name, haproxy.StateReady)); err != nil {
			return undrained, weightless, fmt.Errorf("undraining %s/%s: %w", s.Backend, name, err)
		}
		undrained = append(undrained, s.Backend)
	}
	return undrained, weightless, nil
}

// Sessions are the sessions a server has open through HAProxy.
type Sessions struct {
	// ByBackend counts them in each backend that has the server, across
	// the current worker and the old ones.
	ByBackend map[string]int
	// InOldWorkers is how many of them old workers hold: workers a reload
	// left serving their connections, until those end or hard-stop-after.
	InOldWorkers int
}

// Total is the number of sessions.
func (s Sessions) Total() int {
	n := 0
	for _, c := range s.ByBackend {
		n += c
	}
	return n
}

// Backends lists the backends with a session, sorted.
func (s Sessions) Backends() []string {
	var out []string
	for _, b := range slices.Sorted(maps.Keys(s.ByBackend)) {
		if s.ByBackend[b] > 0 {
			out = append(out, b)
		}
	}
	return out
}

// ServerSessions counts the sessions of server name in every backend of
// every worker of the master m (`show stat -1 4 -1` on each): the current
// worker and the old ones, since a connection an old worker holds still
// goes to the server.
func ServerSessions(ctx context.Context, m *haproxy.Master, name string) (Sessions, error) {
	procs, err := m.ShowProc(ctx)
	if err != nil {
		return Sessions{}, err
	}
	out := Sessions{ByBackend: map[string]int{}}
	workers := append(slices.Clone(procs.Workers), procs.OldWorkers...)
	for i, p := range workers {
		old := i >= len(procs.Workers)
		answer, err := m.Process(ctx, p.PID, "show stat -1 4 -1")
		var all map[string]map[string]int
		if err == nil {
			all, err = haproxy.ParseSessions(answer)
		}
		switch {
		case err != nil && old:
			continue // an old worker ending meanwhile answers nothing, or not at all
		case err != nil:
			return Sessions{}, fmt.Errorf("worker %d: %w", p.PID, err)
		}
		for backend, servers := range all {
			n, ok := servers[name]
			if !ok {
				continue
			}
			out.ByBackend[backend] += n
			if old {
				out.InOldWorkers += n
			}
		}
	}
	return out, nil
}

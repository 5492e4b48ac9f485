package discovery

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/state"
)

// Result is the state with its discovered servers, for `render` and
// `validate`.
type Result struct {
	State   *state.State // the state as the agent would apply it
	Set     Set          // the discovered servers in it
	Skipped []Skipped    // servers a selector matched that are left out
	// Requests is what the poll cost (0 offline).
	Requests int
}

// Once polls the API once for s and returns s with the servers found.
// There is no earlier set to compare with, so the safety rules do not
// apply: it shows what a poll finds now. A state without a discovery
// section is returned as it is, without a request.
func Once(ctx context.Context, s *state.State, connect Connect) (Result, error) {
	d := s.HCloudDiscovery()
	if d == nil {
		return Result{State: s}, nil
	}
	p := New(Config{Connect: connect}, zap.NewNop())
	r := p.fetch(ctx, s, d)
	if r.err != nil {
		return Result{}, fmt.Errorf("discovering servers: %w", r.err)
	}
	set := Set{ControlPlanes: r.found[state.ListControlPlanes], Workers: r.found[state.ListWorkers]}
	return complete(s, set, r.skipped, r.requests)
}

// Offline returns s with the discovered servers kept at path, without the
// API: what the agent applies at start when the API cannot be reached.
// found is false when there is no such file (s has no discovered servers
// then).
func Offline(s *state.State, path string) (res Result, found bool, err error) {
	if s.HCloudDiscovery() == nil {
		return Result{State: s}, false, nil
	}
	saved, found, err := LoadIfExists(path)
	if err != nil {
		return Result{}, false, err
	}
	res, err = complete(s, saved.Set, nil, 0)
	return res, found, err
}

func complete(s *state.State, set Set, skipped []Skipped, requests int) (Result, error) {
	out, merged, err := merge(s, set)
	if err != nil {
		return Result{}, err
	}
	used := Set{}
	for _, list := range lists {
		if s.HCloudDiscovery().Selector(list) == "" {
			continue
		}
		var keep []Server
		for _, srv := range set.of(list) {
			if !containsSkip(merged, list, srv.Name) {
				keep = append(keep, srv)
			}
		}
		used = used.with(list, keep)
	}
	return Result{State: out, Set: used, Skipped: append(skipped, merged...), Requests: requests}, nil
}

func containsSkip(skipped []Skipped, list, name string) bool {
	for _, s := range skipped {
		if s.List == list && s.Name == name {
			return true
		}
	}
	return false
}

package main

import (
	"context"
	"errors"

	"github.com/hakgen/hakgen/preflight"
	"github.com/hakgen/hakgen/state"
)

// discover adds the discovered servers to the state validate checks:
// those one poll finds on a node; offline, or when the API cannot be
// asked, those run kept. A state whose control planes are all to be
// discovered and none is found fails on a node (the agent would apply
// nothing); offline it is checked with its own servers, with a warning.
func (v *validation) discover(ctx context.Context) error {
	if v.s.HCloudDiscovery() == nil {
		return nil
	}
	offline := v.opts.offline
	res, err := discovered(ctx, v.s, offline, v.opts.discovered, v.e.stderr)
	if err != nil && !offline && !errors.Is(err, state.ErrNoControlPlane) {
		v.results = append(v.results, preflight.Result{Check: "discovery", Status: preflight.Warn, Field: "discovery.hcloud",
			Detail: "the Hetzner API could not be asked: " + firstLineOf(err.Error()),
			Fix:    "checked with the servers run kept in " + v.opts.discovered + " instead"})
		offline = true
		res, err = discovered(ctx, v.s, true, v.opts.discovered, v.e.stderr)
	}
	switch {
	case errors.Is(err, state.ErrNoControlPlane) && offline:
		v.results = append(v.results, preflight.Result{Check: "discovery", Status: preflight.Warn, Field: "discovery.hcloud.controlPlanes",
			Detail: err.Error(), Fix: "haproxy.cfg is checked without control planes"})
		return nil
	case errors.Is(err, state.ErrNoControlPlane):
		v.results = append(v.results, preflight.Result{Check: "discovery", Status: preflight.Fail, Field: "discovery.hcloud.controlPlanes",
			Detail: err.Error(), Fix: "label the control planes as the selector says: hcloud server add-label"})
		return nil
	case err != nil:
		return err
	}
	v.s = res.State
	return nil
}

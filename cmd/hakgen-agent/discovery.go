package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/state"
)

// discoveryTimeout bounds the one poll of render and validate.
const discoveryTimeout = 30 * time.Second

// addDiscoveredFlag adds --discovered-file, which run, render and
// validate share.
func addDiscoveredFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVar(p, "discovered-file", discovery.DefaultPath, "`FILE` keeping the servers discovered by Hetzner labels across restarts (written by run)")
}

// discoveryConnect is the Hetzner API discovery polls: $HCLOUD_ENDPOINT,
// else Hetzner's, with the failover's timeouts and retries. An invalid
// $HCLOUD_ENDPOINT fails every poll, naming the variable.
func discoveryConnect(log *zap.Logger) discovery.Connect {
	eps, err := hetzner.EndpointsFromEnv(os.Getenv)
	if err != nil {
		return func(*state.State) (discovery.API, error) { return nil, err }
	}
	v, _ := buildVersion()
	return discovery.HCloud(eps.API, v, log)
}

// discovered returns s with its discovered servers, for render and
// validate: polled once from the API, or with offline read from the file
// run keeps. What it found and left out goes to w. A state without a
// discovery section is returned as it is.
func discovered(ctx context.Context, s *state.State, offline bool, path string, w io.Writer) (discovery.Result, error) {
	if s.HCloudDiscovery() == nil {
		return discovery.Result{State: s}, nil
	}
	if offline {
		res, found, err := discovery.Offline(s, path)
		switch {
		case err != nil:
			return res, envErr(err)
		case !found:
			fmt.Fprintf(w, "discovery: no servers kept at %s (run writes it after its first poll): only the state's own servers\n", path)
		default:
			printDiscovered(w, res, "kept at "+path)
		}
		return res, nil
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	res, err := discovery.Once(ctx, s, discoveryConnect(zap.NewNop()))
	if err != nil {
		return res, discoveryErr(err, path)
	}
	printDiscovered(w, res, fmt.Sprintf("from the Hetzner API, %d requests", res.Requests))
	return res, nil
}

// discoveryErr is a failed poll: the API, the token or the network is the
// environment's problem; a state that cannot be applied without its
// discovered control planes is invalid.
func discoveryErr(err error, path string) error {
	if errors.Is(err, state.ErrNoControlPlane) {
		return err
	}
	return envErr(fmt.Errorf("%w\n(--offline uses the servers run kept at %s, without the API)", err, path))
}

// printDiscovered writes one line per discovered server and per server
// left out.
func printDiscovered(w io.Writer, res discovery.Result, from string) {
	fmt.Fprintf(w, "discovery: %d control planes and %d workers %s\n", len(res.Set.ControlPlanes), len(res.Set.Workers), from)
	for _, list := range []struct {
		name    string
		servers []discovery.Server
	}{{"control plane", res.Set.ControlPlanes}, {"worker", res.Set.Workers}} {
		for _, srv := range list.servers {
			id := ""
			if srv.ID != 0 {
				id = fmt.Sprintf(" (server %d)", srv.ID)
			}
			fmt.Fprintf(w, "  %s %s %s%s\n", list.name, srv.Name, srv.Address, id)
		}
	}
	for _, sk := range res.Skipped {
		fmt.Fprintf(w, "  left out of %s: %s: %s\n", sk.List, sk.Name, sk.Reason)
	}
}

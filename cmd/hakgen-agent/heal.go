package main

import (
	"context"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/state"
)

// startHealer re-asserts the Floating IP while this node is MASTER (see
// failover.Healer), from the state as it is when the daemon starts: a
// changed floatingIP or token takes effect at the next start. It does
// nothing when healing is off or the state has no Floating IP.
func startHealer(ctx context.Context, f runFlags, log *zap.Logger) {
	log = log.Named("heal")
	if *f.healInterval <= 0 {
		return
	}
	s, _, err := state.Load(*f.state)
	if err != nil || s.FloatingIP == nil || len(s.LoadBalancers) == 0 {
		log.Info("Floating IP self-healing is off: the state at start has no usable floatingIP and loadBalancers")
		return
	}
	h, err := newHealer(s, f, log)
	if err != nil {
		log.Error("Floating IP self-healing is off", zap.Error(err))
		return
	}
	log.Info("Floating IP self-healing on", zap.Int64("floating_ip", s.FloatingIP.ID), zap.Duration("interval", *f.healInterval))
	go func() { _ = h.Run(ctx) }()
}

func newHealer(s *state.State, f runFlags, log *zap.Logger) (*failover.Healer, error) {
	i, err := findThisNode(s, *f.node)
	if err != nil {
		return nil, err
	}
	eps, err := hetzner.EndpointsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	tokenFile := s.FloatingIP.TokenFile
	if tokenFile != "" && !filepath.IsAbs(tokenFile) {
		tokenFile = filepath.Join(filepath.Dir(*f.state), tokenFile)
	}
	token, _, err := hetzner.LoadToken(tokenFile)
	if err != nil {
		return nil, err
	}
	v, _ := buildVersion()
	client, err := hetzner.NewClient(hetzner.Config{Endpoint: eps.API, Token: token, Version: v}, log)
	if err != nil {
		return nil, err
	}
	serverID := failover.StaticServerID(s.LoadBalancers[i].ServerID)
	if s.LoadBalancers[i].ServerID == 0 {
		serverID = hetzner.NewServerIDSource(eps.Metadata, *f.stateDir, log).ServerID
	}
	return failover.NewHealer(failover.HealerConfig{
		StateDir: *f.stateDir, FloatingIPID: s.FloatingIP.ID, ServerID: serverID, Interval: *f.healInterval,
	}, client, log), nil
}

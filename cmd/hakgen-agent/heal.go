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
// failover.Healer), for the Floating IP and node of the state as it is when
// the daemon starts (a changed floatingIP takes effect at the next start;
// the token is read anew for every check). It does nothing when healing is
// off or the state has no Floating IP.
func startHealer(ctx context.Context, f runFlags, log *zap.Logger) {
	log = log.Named("heal")
	if *f.healInterval <= 0 {
		return
	}
	s, err := state.LoadForFailover(*f.state)
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
	client := &tokenClient{tokenFile: tokenFile, endpoint: eps.API, log: log}
	serverID := failover.StaticServerID(s.LoadBalancers[i].ServerID)
	if s.LoadBalancers[i].ServerID == 0 {
		serverID = hetzner.NewServerIDSource(eps.Metadata, *f.stateDir, log).ServerID
	}
	return failover.NewHealer(failover.HealerConfig{
		StateDir: *f.stateDir, FloatingIPID: s.FloatingIP.ID, ServerID: serverID, Interval: *f.healInterval,
	}, client, log), nil
}

// tokenClient is the healer's Hetzner client. It reads the token for every
// call, so a rotated token or a token file fixed after start (mode, owner)
// takes effect without a restart; one read of a small file per check.
type tokenClient struct {
	tokenFile, endpoint string
	log                 *zap.Logger
}

var _ failover.OwnerAssigner = (*tokenClient)(nil)

func (c *tokenClient) client() (*hetzner.Client, error) {
	token, _, err := hetzner.LoadToken(c.tokenFile)
	if err != nil {
		return nil, err
	}
	v, _ := buildVersion()
	return hetzner.NewClient(hetzner.Config{Endpoint: c.endpoint, Token: token, Version: v}, c.log)
}

// Owner returns the server the Floating IP points to.
func (c *tokenClient) Owner(ctx context.Context, floatingIPID int64) (int64, error) {
	cl, err := c.client()
	if err != nil {
		return 0, err
	}
	return cl.Owner(ctx, floatingIPID)
}

// Assign points the Floating IP to serverID.
func (c *tokenClient) Assign(ctx context.Context, floatingIPID, serverID int64) (hetzner.Result, error) {
	cl, err := c.client()
	if err != nil {
		return hetzner.Result{}, err
	}
	return cl.Assign(ctx, floatingIPID, serverID)
}

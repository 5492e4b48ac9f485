package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// watchHAProxy keeps keepalived's track file (keepalived.conf's
// hakgen_haproxy_process) in line with HAProxy's master process: "1" the
// instant it dies, so keepalived resigns MASTER at once instead of after
// its check misses twice, "0" while it runs. The returned function, called
// when the agent stops, writes "0": a stopped agent must not hold the node
// in FAULT, the check script judges alone then.
func watchHAProxy(ctx context.Context, o runOptions, log *zap.Logger) (stop func()) {
	log = log.Named("watch-haproxy")
	tf := failover.TrackFile{Path: filepath.Join(o.stateDir, render.TrackFileName)}
	if err := os.MkdirAll(o.stateDir, 0o755); err != nil {
		log.Warn("cannot create the state directory: keepalived is not told when HAProxy dies", zap.Error(err))
		return func() {}
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		haproxy.WatchMaster(wctx, haproxy.NewMaster(o.socket), 0, func(up bool) {
			if err := tf.Set(up); err != nil {
				log.Warn("cannot tell keepalived whether HAProxy runs", zap.Error(err))
				return
			}
			if up {
				log.Info("HAProxy's master process runs", zap.String("track_file", tf.Path))
			} else {
				log.Warn("HAProxy's master process is gone: this node is not fit to be MASTER", zap.String("track_file", tf.Path))
			}
		})
	}()
	return func() {
		cancel()
		<-done
		if err := tf.Set(true); err != nil {
			log.Warn("cannot clear keepalived's track file", zap.Error(err))
		}
	}
}

// startHealer re-asserts the addresses of the MASTER (see failover.Healer):
// a healer per Floating IP and for the private VIP, each following its VRRP
// instance, for the state and node as they are when the healers start (a
// changed floatingIP, floatingIPs or privateVIP takes effect at the next
// start of the agent; the token is read anew for every check). When the
// state or this node's address is not usable yet (a state file still
// missing, an address not up at boot), it tries again every interval. It
// does nothing when healing is off or the state has no such address.
func startHealer(ctx context.Context, o runOptions, log *zap.Logger) {
	log = log.Named("heal")
	if o.healInterval <= 0 {
		return
	}
	go func() {
		logged := ""
		for {
			s, err := state.LoadForFailover(o.state)
			if err == nil && (!s.HasFailoverAddress() || len(s.LoadBalancers) == 0) {
				log.Info("Floating IP self-healing is off: the state has no floatingIP, floatingIPs or privateVIP, or no loadBalancers")
				return
			}
			var hs []*failover.Healer
			if err == nil {
				hs, err = newHealers(s, o, log)
			}
			if err == nil {
				log.Info("Floating IP self-healing on", zap.Int("addresses", len(hs)), zap.Strings("instances", s.InstanceNames()), zap.Duration("interval", o.healInterval))
				runHealers(ctx, hs)
				return
			}
			if err.Error() != logged {
				logged = err.Error()
				log.Warn("Floating IP self-healing cannot start yet; trying again", zap.Error(err), zap.Duration("every", o.healInterval))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(o.healInterval):
			}
		}
	}()
}

// runHealers runs every healer until ctx ends, starting with a heal file
// of their own (a target healed before the restart must not linger in it).
func runHealers(ctx context.Context, hs []*failover.Healer) {
	var wg sync.WaitGroup
	for _, h := range hs {
		wg.Go(func() { _ = h.Run(ctx) })
	}
	wg.Wait()
}

func newHealers(s *state.State, o runOptions, log *zap.Logger) ([]*failover.Healer, error) {
	i, err := findThisNode(s, o.node)
	if err != nil {
		return nil, err
	}
	eps, err := hetzner.EndpointsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	client := &tokenClient{tokenFile: tokenFileOf(s), endpoint: eps.API, log: log}
	serverID := failover.StaticServerID(s.LoadBalancers[i].ServerID)
	if s.LoadBalancers[i].ServerID == 0 {
		serverID = hetzner.NewServerIDSource(eps.Metadata, o.stateDir, log).ServerID
	}
	if err := failover.NewStore(o.stateDir).ClearHeal(); err != nil {
		return nil, err
	}
	base := failover.HealerConfig{StateDir: o.stateDir, ServerID: serverID, Interval: o.healInterval}
	confirm := func(a netip.Addr) func() error { return confirmMaster(a, o.kaPidFile, state.LocalAddrs) }
	var hs []*failover.Healer
	for _, cfg := range healerConfigs(s, i, base, client, confirm) {
		hs = append(hs, failover.NewHealer(cfg, client, log))
	}
	return hs, nil
}

// confirmMaster agrees that this node is MASTER when keepalived runs (its
// pid file names a live keepalived) and the address (a Floating IP, the
// private VIP) is on one of this node's interfaces, which keepalived does
// only while MASTER of its instance. A keepalived
// killed without reporting STOP leaves the record at MASTER; this keeps
// the healer from taking the IP back from the real MASTER then.
func confirmMaster(fip netip.Addr, pidFile string, local func() ([]netip.Addr, error)) func() error {
	return func() error {
		if err := keepalivedRuns(pidFile); err != nil {
			return err
		}
		addrs, err := local()
		if err != nil {
			return err
		}
		if !slices.Contains(addrs, fip) {
			return fmt.Errorf("the address %s is not on this node", fip)
		}
		return nil
	}
}

// keepalivedRuns checks that pidFile names a running keepalived.
func keepalivedRuns(pidFile string) error {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return fmt.Errorf("keepalived is not running (%w)", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("keepalived is not running (%s holds no PID)", pidFile)
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "keepalived" {
		return fmt.Errorf("keepalived is not running (PID %d from %s is gone)", pid, pidFile)
	}
	return nil
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

// tokenFileOf is the token file the state names (hcloud.tokenFile, else
// floatingIP.tokenFile), a relative path taken from the
// state file's directory.
func tokenFileOf(s *state.State) string {
	path, _ := s.TokenFile()
	return path
}

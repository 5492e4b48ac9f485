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

// startHealer re-asserts the Floating IP while this node is MASTER (see
// failover.Healer), for the Floating IP and node of the state as it is when
// the healer starts (a changed floatingIP takes effect at the next start of
// the agent; the token is read anew for every check). When the state or
// this node's address is not usable yet (a state file still missing, an
// address not up at boot), it tries again every interval. It does nothing
// when healing is off or the state has no Floating IP.
func startHealer(ctx context.Context, o runOptions, log *zap.Logger) {
	log = log.Named("heal")
	if o.healInterval <= 0 {
		return
	}
	go func() {
		logged := ""
		for {
			s, err := state.LoadForFailover(o.state)
			if err == nil && (s.FloatingIP == nil || len(s.LoadBalancers) == 0) {
				log.Info("Floating IP self-healing is off: the state has no floatingIP and loadBalancers")
				return
			}
			var h *failover.Healer
			if err == nil {
				h, err = newHealer(s, o, log)
			}
			if err == nil {
				log.Info("Floating IP self-healing on", zap.Int64("floating_ip", s.FloatingIP.ID), zap.Duration("interval", o.healInterval))
				_ = h.Run(ctx)
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

func newHealer(s *state.State, o runOptions, log *zap.Logger) (*failover.Healer, error) {
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
	fip, err := netip.ParseAddr(s.FloatingIP.Address)
	if err != nil {
		return nil, fmt.Errorf("floatingIP.address: %w", err)
	}
	return failover.NewHealer(failover.HealerConfig{
		StateDir: o.stateDir, FloatingIPID: s.FloatingIP.ID, ServerID: serverID, Interval: o.healInterval,
		Peers: peersOf(s, i), Confirm: confirmMaster(fip, o.kaPidFile, state.LocalAddrs),
	}, client, log), nil
}

// peersOf are the load balancers other than the one at index me, for the
// healer's rule in a partition.
func peersOf(s *state.State, me int) []failover.Peer {
	var peers []failover.Peer
	for j, lb := range s.LoadBalancers {
		if j == me {
			continue
		}
		stats, _ := s.NodeStatsURL(lb.Name)
		peers = append(peers, failover.Peer{Name: lb.Name, ServerID: lb.ServerID, Stats: stats, Above: j < me})
	}
	return peers
}

// confirmMaster agrees that this node is MASTER when keepalived runs (its
// pid file names a live keepalived) and the Floating IP is on one of this
// node's interfaces, which keepalived does only while MASTER. A keepalived
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
			return fmt.Errorf("the Floating IP %s is not on this node", fip)
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

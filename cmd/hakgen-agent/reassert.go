package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/state"
)

// reassertEvery bounds how often notify --reassert asks the API.
// keepalived runs notify_master_rx_lower_pri for every advert of a
// lower-priority MASTER it hears, once per advert_int while a split brain
// lasts: a full assign each time would spend the project's 3600 requests
// an hour within half an hour and move the Floating IP back and forth.
const reassertEvery = 30 * time.Second

// reassertStamp is the file in --state-dir whose time is the last reassert.
const reassertStamp = "reassert.stamp"

// runReassert handles notify --reassert MASTER: while this node is MASTER
// (recorded by an earlier notify), at most every reassertEvery, one GET of
// the Floating IP's owner and an assign only when it points elsewhere.
func (o *notifyOpts) runReassert(ctx context.Context, ev failover.Event, logs notifyLogger) error {
	if ev.State != failover.Master {
		return &exitError{failover.ExitUsage, errors.New("--reassert goes with MASTER only")}
	}
	log := logs.all
	stamp := filepath.Join(o.stateDir, reassertStamp)
	if info, err := os.Stat(stamp); err == nil && time.Since(info.ModTime()) < reassertEvery {
		log.Debug("Floating IP re-asserted recently; skipped", zap.Time("last", info.ModTime()))
		return nil
	}
	if err := os.MkdirAll(o.stateDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(stamp, nil, 0o644); err != nil {
		return err
	}
	if err := os.Chtimes(stamp, time.Time{}, time.Now()); err != nil {
		return err
	}
	m := &masterRun{opts: o, log: log}
	id, err := m.ServerID(ctx)
	if err != nil {
		return &exitError{failover.ExitCode(err), err}
	}
	client := &tokenClient{tokenFile: tokenFileOf(m.state), endpoint: m.api, log: log}
	me, _ := state.FindNode(m.state.LoadBalancers, m.node.Name, nil)
	h := failover.NewHealer(failover.HealerConfig{
		StateDir: o.stateDir, FloatingIPID: m.state.FloatingIP.ID, ServerID: failover.StaticServerID(id), CheckTimeout: o.deadline,
		Peers: peersOf(m.state, me),
	}, client, log)
	outcome, err := h.CheckOnce(ctx)
	if err != nil {
		logs.journalOnly.Error("re-asserting the Floating IP failed", zap.String("outcome", string(outcome)), zap.Error(err))
		return &exitError{failover.ExitCode(err), err}
	}
	log.Info("Floating IP re-asserted", zap.String("outcome", string(outcome)))
	return nil
}

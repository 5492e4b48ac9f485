package main

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
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

// runReassert handles notify --reassert MASTER (or INSTANCE NAME MASTER):
// while this node is MASTER of the instance (recorded by an earlier
// notify), at most every reassertEvery, one look where each of its
// addresses points and a move only of those that point elsewhere.
func (o *notifyOpts) runReassert(ctx context.Context, ev failover.Event, logs notifyLogger) error {
	if ev.State != failover.Master {
		return &exitError{failover.ExitUsage, errors.New("--reassert goes with MASTER only")}
	}
	log := logs.all
	stamp := filepath.Join(o.stateDir, reassertStampOf(ev))
	if info, err := os.Stat(stamp); err == nil && time.Since(info.ModTime()) < reassertEvery {
		log.Debug("addresses re-asserted recently; skipped", zap.Time("last", info.ModTime()))
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
	m := &masterRun{opts: o, log: log, ev: ev}
	id, err := m.ServerID(ctx)
	if err != nil {
		return &exitError{failover.ExitCode(err), err}
	}
	client := &tokenClient{tokenFile: tokenFileOf(m.state), endpoint: m.api, log: log}
	me, _ := state.FindNode(m.state.LoadBalancers, m.node.Name, nil)
	base := failover.HealerConfig{StateDir: o.stateDir, ServerID: failover.StaticServerID(id), CheckTimeout: o.deadline}
	var checks []failover.HealerConfig
	for _, cfg := range healerConfigs(m.state, me, base, client, func(netip.Addr) func() error { return nil }) {
		if slices.ContainsFunc(m.instances, func(in state.VRRPInstance) bool { return healInstance(m.state, in) == cfg.Instance }) {
			checks = append(checks, cfg)
		}
	}
	return reassertEach(ctx, checks, client, logs)
}

// reassertEach checks every address at once and reports each; the first
// failure sets the exit code.
func reassertEach(ctx context.Context, checks []failover.HealerConfig, client *tokenClient, logs notifyLogger) error {
	outcomes := make([]failover.Outcome, len(checks))
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, cfg := range checks {
		wg.Go(func() {
			outcomes[i], errs[i] = failover.NewHealer(cfg, client, logs.all).CheckOnce(ctx)
		})
	}
	wg.Wait()
	var first error
	for i, cfg := range checks {
		if errs[i] != nil {
			logs.journalOnly.Error("re-asserting an address failed", zap.String("target", cfg.Name), zap.String("outcome", string(outcomes[i])), zap.Error(errs[i]))
			if first == nil {
				first = errs[i]
			}
			continue
		}
		logs.all.Info("Floating IP re-asserted", zap.String("target", cfg.Name), zap.String("outcome", string(outcomes[i])))
	}
	if first != nil {
		return &exitError{failover.ExitCode(first), first}
	}
	return nil
}

// reassertStampOf is the stamp file of ev's instance: one per instance, so
// that one instance's split brain does not silence another's. The name
// comes from the command line: anything but a plain word is replaced, so it
// can never lead out of the state directory.
func reassertStampOf(ev failover.Event) string {
	if ev.Kind == "" {
		return reassertStamp
	}
	name := plainName.ReplaceAllString(ev.Name, "_")
	if len(name) > 100 {
		name = name[:100]
	}
	return "reassert-" + name + ".stamp"
}

var plainName = regexp.MustCompile(`[^A-Za-z0-9_-]`)

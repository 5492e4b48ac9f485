package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/render"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const checkLong = `
Checks that this node is fit to be keepalived's MASTER: HAProxy runs and
serves here (the stats frontend's /healthz, which HAProxy answers itself:
no authentication, no backend is contacted), and it can reach backends
while its peers could do no better. When no public backend has a server up
from here (/backendz answers 503), the check fails if a peer's /backendz
(--peer) answers 200: that peer would serve where this node cannot. When no
backend is up from any node (a cluster-wide outage), or no peer answers,
the check passes: the Floating IP stays where it is instead of moving for
nothing. Without --url the URLs come from stats.bind of the state, for this
node. keepalived runs it as the vrrp_script of the keepalived.conf that
` + "`render --keepalived`" + ` writes, with --url and --peer so no state file
is read: exit 0 keeps this node eligible for MASTER, any other code puts it
into FAULT. While the maintenance file under --state-dir says 1 (drill sets
it), the check fails without asking anything. The requests never go
through a proxy, whatever the environment says.`

// DefaultCheckTimeout bounds the request of check; keepalived kills the
// script after the vrrp_script timeout (2 s) anyway.
const DefaultCheckTimeout = time.Second

// checkOptions are the flags of check.
type checkOptions struct {
	url, state, node string
	stateDir         string
	peers            []string
	timeout          time.Duration
}

func (o *checkOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.url, "url", "", "this node's /healthz `URL` (default: from stats.bind of --state for this node)")
	fs.StringSliceVar(&o.peers, "peer", nil, "a peer's stats frontend `URL` (http://ADDRESS:PORT), asked when no backend is up here; repeatable (default with --state: the other load balancers')")
	fs.StringVar(&o.state, "state", DefaultStatePath, "desired-state `FILE`, read only without --url")
	fs.StringVar(&o.node, "node", "", "without --url: this node's `NAME` in loadBalancers (default: found by local address)")
	fs.DurationVar(&o.timeout, "timeout", DefaultCheckTimeout, "give up after `DURATION`, reading the state included")
	fs.StringVar(&o.stateDir, "state-dir", failover.DefaultStateDir, "`DIR` whose maintenance file, while it says 1 (set by drill), fails the check")
}

func newCheckCommand(e *env) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:     "check",
		Short:   "exit 0 when this node is fit to be MASTER (keepalived's vrrp_script)",
		Long:    checkLong,
		Example: "  hakgen-agent check\n  hakgen-agent check --url http://10.0.0.5:8404/healthz --peer http://10.0.0.6:8404 --timeout 500ms",
		Annotations: map[string]string{annotationSynopsis: "hakgen-agent check [--url URL [--peer URL]...] [--timeout DURATION]\n" +
			"       hakgen-agent check [--state FILE] [--node NAME] [--timeout DURATION]"},
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), e) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

func (o *checkOptions) run(ctx context.Context, e *env) error {
	if o.timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	maintenance := failover.TrackFile{Path: filepath.Join(o.stateDir, render.MaintenanceFileName)}
	if down, err := maintenance.Down(); err != nil || down {
		if err == nil {
			err = fmt.Errorf("this node is held out of MASTER: %s says 1 (a drill, or an operator); echo 0 > %s to end it", maintenance.Path, maintenance.Path)
		}
		return err
	}
	el := failover.Eligibility{Health: o.url, Peers: o.peers}
	if o.url == "" {
		var err error
		if el, err = eligibilityFromState(ctx, o.state, o.node, e); err != nil {
			return err
		}
	}
	for _, u := range append([]string{el.Health}, el.Peers...) {
		if p, err := url.Parse(u); err != nil || p.Scheme != "http" || p.Host == "" {
			return usageErr("%q is not an http:// URL", u)
		}
	}
	return el.Check(ctx)
}

// eligibilityFromState finds this node's /healthz and its peers' stats
// frontends from the state file.
func eligibilityFromState(ctx context.Context, statePath, node string, e *env) (failover.Eligibility, error) {
	s, err := loadState(ctx, statePath, e.stderr)
	if err != nil {
		return failover.Eligibility{}, err
	}
	if node == "" && len(s.LoadBalancers) > 0 {
		if i, err := findThisNode(s, ""); err == nil {
			node = s.LoadBalancers[i].Name
		}
	}
	health, err := s.HealthURL(node)
	if err != nil {
		return failover.Eligibility{}, err
	}
	return failover.Eligibility{Health: health, Peers: s.PeerStatsURLs(node)}, nil
}

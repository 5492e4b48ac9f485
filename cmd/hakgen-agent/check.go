package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hakgen/hakgen/state"
)

const checkLong = `
Checks that HAProxy runs and serves on this node: asks the stats frontend's
/healthz, which HAProxy answers itself (monitor-uri: no authentication, no
backend is contacted). Without --url the URL comes from stats.bind of the
state, for this node. keepalived runs it as the vrrp_script of the
keepalived.conf that ` + "`render --keepalived`" + ` writes, with --url so no file
is read: exit 0 keeps this node eligible for MASTER, any other code puts it
into FAULT. The request never goes through a proxy, whatever the
environment says.

The check does not wait for the API servers behind HAProxy: when they are
all down, both load balancers see the same, and the ingress frontends still
need the Floating IP.`

// DefaultCheckTimeout bounds the request of check; keepalived kills the
// script after the vrrp_script timeout (2 s) anyway.
const DefaultCheckTimeout = time.Second

// checkOptions are the flags of check.
type checkOptions struct {
	url, state, node string
	timeout          time.Duration
}

func (o *checkOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.url, "url", "", "check `URL` (default: /healthz on stats.bind of --state for this node)")
	fs.StringVar(&o.state, "state", DefaultStatePath, "desired-state `FILE`, read only without --url")
	fs.StringVar(&o.node, "node", "", "without --url: this node's `NAME` in loadBalancers (default: found by local address)")
	fs.DurationVar(&o.timeout, "timeout", DefaultCheckTimeout, "give up after `DURATION`, reading the state included")
}

func newCheckCommand(e *env) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:     "check",
		Short:   "exit 0 when HAProxy answers its /healthz here (keepalived's vrrp_script)",
		Long:    checkLong,
		Example: "  hakgen-agent check\n  hakgen-agent check --url http://10.0.0.5:8404/healthz --timeout 500ms",
		Annotations: map[string]string{annotationSynopsis: "hakgen-agent check [--url URL] [--timeout DURATION]\n" +
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
	u := o.url
	if u == "" {
		var err error
		if u, err = healthURL(ctx, o.state, o.node, e); err != nil {
			return err
		}
	} else if p, err := url.Parse(u); err != nil || p.Scheme != "http" || p.Host == "" {
		return usageErr("--url %q is not an http:// URL", u)
	}
	return checkHealth(ctx, u)
}

// healthURL finds /healthz of this node from the state file.
func healthURL(ctx context.Context, statePath, node string, e *env) (string, error) {
	s, err := loadState(ctx, statePath, e.stderr)
	if err != nil {
		return "", err
	}
	if node == "" && len(s.LoadBalancers) > 0 {
		if i, err := findThisNode(s, ""); err == nil {
			node = s.LoadBalancers[i].Name
		}
	}
	return s.HealthURL(node)
}

// checkHealth asks HAProxy's monitor URL and wants 200. ctx bounds it.
// No proxy is ever used: a proxy variable in keepalived's environment
// would otherwise answer for a dead HAProxy.
func checkHealth(ctx context.Context, u string) error {
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return usageErr("%v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("HAProxy does not answer %s: %w", u, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HAProxy answers %s with %s (expected 200 from monitor-uri %s)", u, resp.Status, state.HealthPath)
	}
	return nil
}

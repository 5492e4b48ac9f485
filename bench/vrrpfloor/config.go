package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hakgen/hakgen/state"
)

// recordScript stands in for `hakgen-agent notify`: keepalived runs it
// with the log file first and then, as notify, INSTANCE NAME STATE
// PRIORITY, or, as notify_master_rx_lower_pri, REASSERT. Each run appends
// one line: the time (seconds since the epoch, microseconds) and the
// arguments. bash's EPOCHREALTIME needs no extra process, so the time is
// taken within the script's own start-up.
const recordScript = `#!/bin/bash
log=$1
shift
printf '%s %s\n' "$EPOCHREALTIME" "$*" >>"$log"
`

// nodeConfig is what one node of the pair runs.
type nodeConfig struct {
	name     string
	address  string // the node's private address (loadBalancers[].address)
	conf     string // keepalived.conf
	checkURL string // what its vrrp_script asks; the benchmark answers it
	notify   string // the log file the record script appends to
}

// pairState is what the benchmark needs to know of the state it writes.
type pairState struct {
	names, addrs []string // of loadBalancers, in order
	vip          string   // floatingIP.address
}

// writeState writes base with keepalived.advertInterval set to adv (the
// state's floor when adv is below it) and the
// two interfaces renamed to the links the benchmark creates. The state must
// name two load balancers.
func writeState(base, path string, adv time.Duration, vrrpIface, fipIface string) (ps pairState, err error) {
	data, err := os.ReadFile(base)
	if err != nil {
		return ps, fmt.Errorf("reading the state: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return ps, fmt.Errorf("reading the state %s: %w", base, err)
	}
	keepalived, _ := doc["keepalived"].(map[string]any)
	fip, _ := doc["floatingIP"].(map[string]any)
	lbs, _ := doc["loadBalancers"].([]any)
	if keepalived == nil || fip == nil || len(lbs) != 2 {
		return ps, fmt.Errorf("state %s: expected keepalived, floatingIP and exactly two loadBalancers", base)
	}
	// Below the state's floor the agent refuses to render: the state
	// holds the floor and renderNode writes adv into keepalived.conf.
	keepalived["advertInterval"] = state.Duration(max(adv, state.MinAdvertInterval)).String()
	keepalived["interface"] = vrrpIface
	fip["interface"] = fipIface
	for _, v := range lbs {
		lb, _ := v.(map[string]any)
		ps.names = append(ps.names, fmt.Sprint(lb["name"]))
		ps.addrs = append(ps.addrs, fmt.Sprint(lb["address"]))
	}
	ps.vip = fmt.Sprint(fip["address"])
	out, err := yaml.Marshal(doc)
	if err != nil {
		return ps, err
	}
	return ps, os.WriteFile(path, out, 0o644)
}

// renderNode runs `agent render --keepalived` for node, replaces its two
// notify commands with the record script (see rewriteNotify) and, for an
// adv below the state's floor, its advert_int (see rewriteAdvert).
func renderNode(ctx context.Context, agent, statePath, dir, node, address string, adv time.Duration) (nodeConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, agent, "render", "--keepalived", "--state", statePath, "--node", node, "--agent-path", agent)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	rendered, err := cmd.Output()
	if err != nil {
		return nodeConfig{}, fmt.Errorf("render --keepalived --node %s: %w: %s", node, err, stderr.String())
	}
	nc := nodeConfig{
		name:    node,
		address: address,
		conf:    filepath.Join(dir, node+"-keepalived.conf"),
		notify:  filepath.Join(dir, node+"-notify.log"),
	}
	if nc.checkURL, err = checkURL(rendered); err != nil {
		return nodeConfig{}, fmt.Errorf("keepalived.conf of %s: %w", node, err)
	}
	conf, err := rewriteNotify(rendered, agent, filepath.Join(dir, "record"), nc.notify)
	if err == nil && adv < state.MinAdvertInterval {
		conf, err = rewriteAdvert(conf, adv)
	}
	if err != nil {
		return nodeConfig{}, fmt.Errorf("keepalived.conf of %s: %w", node, err)
	}
	return nc, os.WriteFile(nc.conf, conf, 0o644)
}

var checkLine = regexp.MustCompile(`(?m)^\s*script "\S+ check --url (\S+)(?: [^"]*)?"$`)

// rewriteNotify replaces the two commands keepalived.conf runs on VRRP
// events, `AGENT notify …` (notify) and `AGENT notify --reassert …`
// (notify_master_rx_lower_pri), with the record script appending to log;
// everything else stays as rendered. It fails unless each is there exactly
// once, so a change of the template cannot leave the real notify in place
// unnoticed.
func rewriteNotify(conf []byte, agent, script, log string) ([]byte, error) {
	a := regexp.QuoteMeta(agent)
	for _, r := range []struct {
		re   *regexp.Regexp
		args string
	}{
		{regexp.MustCompile(`(?m)^(\s*notify) "` + a + ` notify [^"]*"$`), log},
		{regexp.MustCompile(`(?m)^(\s*notify_master_rx_lower_pri) "` + a + ` notify --reassert [^"]*"$`), log + " REASSERT"},
	} {
		if n := len(r.re.FindAll(conf, -1)); n != 1 {
			return nil, fmt.Errorf("found %d lines matching %s, expected 1", n, r.re)
		}
		m := r.re.FindSubmatchIndex(conf)
		var b bytes.Buffer
		b.Write(conf[:m[3]]) // up to and with the keyword
		fmt.Fprintf(&b, ` "%s %s"`, script, r.args)
		b.Write(conf[m[1]:])
		conf = b.Bytes()
	}
	return conf, nil
}

// checkURL returns the URL the vrrp_script's `hakgen-agent check` asks.
func checkURL(conf []byte) (string, error) {
	m := checkLine.FindAllSubmatch(conf, -1)
	if len(m) != 1 {
		return "", errors.New("expected one vrrp_script running hakgen-agent check --url")
	}
	u := string(m[0][1])
	if _, err := url.Parse(u); err != nil {
		return "", fmt.Errorf("check URL: %w", err)
	}
	return u, nil
}

var advertLine = regexp.MustCompile(`(?m)^(\s*advert_int) \S+$`)

// rewriteAdvert sets advert_int to adv, which the state refuses (it is
// below the floor this benchmark measures). The rendered file is VRRPv3
// already (the floor is below a second); it fails unless advert_int is
// there exactly once.
func rewriteAdvert(conf []byte, adv time.Duration) ([]byte, error) {
	if n := len(advertLine.FindAll(conf, -1)); n != 1 || !bytes.Contains(conf, []byte("    version 3\n")) {
		return nil, fmt.Errorf("found %d advert_int lines (expected 1, after version 3)", n)
	}
	return advertLine.ReplaceAll(conf, []byte("${1} "+strconv.FormatFloat(adv.Seconds(), 'f', -1, 64))), nil
}

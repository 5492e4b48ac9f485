package render

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/hakgen/hakgen/state"
)

//go:embed keepalived.conf.tmpl
var keepalivedTemplate string

var keepalivedTmpl = template.Must(template.New("keepalived.conf").
	Funcs(template.FuncMap{"w": word}).
	Option("missingkey=error").
	Parse(keepalivedTemplate))

// failoverStateDir is notify's default state directory (failover.DefaultStateDir).
const failoverStateDir = "/run/hakgen"

// DefaultAgentPath is where the Debian package installs hakgen-agent; the
// scripts in keepalived.conf run it from there.
const DefaultAgentPath = "/usr/bin/hakgen-agent"

// VRRP priorities by rank in an instance's order of preference (see
// state.VRRPInstance.Rank): the preferred node gets topPriority, each
// next one priorityStep less. High priorities keep the
// skew time short, (256 - priority)/256 of the advert interval: it is how
// long a BACKUP waits after the MASTER resigns (priority 0) before taking
// over, 62 ms at 1 s adverts for the second node.
const (
	topPriority  = 250
	priorityStep = 10
)

// TrackFileName is the file in the notify state directory (/run/hakgen)
// that the agent writes while it watches HAProxy's master process: "0"
// while it runs, "1" from the instant it is gone. keepalived's track_file
// reads it through inotify, so a dead HAProxy puts the node into FAULT at
// once instead of after the check's next misses.
const TrackFileName = "haproxy-down"

// BackendsFileName is the file in the notify state directory that the
// agent writes while it watches this node's backends: "1" once no public
// backend has had a server up here for a check interval while a peer sees
// one, "0" otherwise (failover.BackendsWatch). Through keepalived's
// track_file the MASTER leaves at once, instead of after its check has
// failed twice.
const BackendsFileName = "backends-lost"

// MaintenanceFileName is the file in the notify state directory that
// holds this node out of MASTER while it says "1": `hakgen-agent drill`
// sets it to rehearse a failover. keepalived reads it as a track_file
// (at once, through inotify) and the check honours it too.
const MaintenanceFileName = "maintenance"

// InstanceMaintenanceFile is the file in the notify state directory that
// holds this node out of MASTER of one VRRP instance only, while it says
// "1": `hakgen-agent drill --instance` sets it to hand that instance to
// its peer. keepalived.conf has one per instance when it has several.
func InstanceMaintenanceFile(instance string) string { return MaintenanceFileName + "-" + instance }

// KeepalivedOptions choose the node keepalived.conf is rendered for and
// what its scripts run.
type KeepalivedOptions struct {
	// Node is the name of the load balancer the file is for (required;
	// see state.FindNode). The scripts pass it on as --node, so a notify
	// run need not look for its own addresses.
	Node string
	// Agent is the hakgen-agent binary the scripts run; DefaultAgentPath
	// when empty. keepalived runs scripts only from root-owned paths that
	// nobody else can write to.
	Agent string
	// StatePath, when set, is passed to notify as --state; leave it empty
	// for the default /etc/hakgen/state.yaml.
	StatePath string
	// StateDir, when set, is passed to notify as --state-dir; leave it
	// empty for the default /run/hakgen.
	StateDir string
}

// keepalivedView is what the keepalived.conf template needs.
type keepalivedView struct {
	Cluster, Hash, Node string
	Interface           string
	Version3            bool   // VRRPv3: the advert interval is not whole seconds
	AdvertInt           string // seconds, e.g. "1" or "0.25"
	Address             string // unicast_src_ip
	Peers               []string
	Agent               string
	CheckURL            string   // HAProxy's own liveness URL, as `check --url` takes it
	PeerStats           []string // the peers' stats frontends, as `check --peer` takes them
	TrackFile           string   // where the agent reports HAProxy's death
	BackendsFile        string   // where the agent reports the backends lost
	MaintenanceFile     string   // set by drill to hold this node out of MASTER
	StateDir            string   // notify's and check's --state-dir, when not the default
	NotifyFlags         []string // flags of `notify` before keepalived's arguments
	Instances           []instanceView
}

// Keepalived renders keepalived.conf for the load balancer opts.Node of s.
// s must have passed validation and be complete for keepalived
// (state.CompleteForKeepalived, which Keepalived checks again); the error
// then lists every missing field. Rendering is pure: the same state and
// options give the same bytes.
func Keepalived(s *state.State, opts KeepalivedOptions) ([]byte, error) {
	view, err := newKeepalivedView(s, opts)
	if err != nil {
		return nil, fmt.Errorf("rendering keepalived.conf: %w", err)
	}
	var buf bytes.Buffer
	if err := keepalivedTmpl.Execute(&buf, view); err != nil {
		return nil, fmt.Errorf("rendering keepalived.conf: %w", err)
	}
	return buf.Bytes(), nil
}

func newKeepalivedView(s *state.State, opts KeepalivedOptions) (*keepalivedView, error) {
	if err := s.CompleteForKeepalived(); err != nil {
		return nil, err
	}
	if opts.Node == "" {
		return nil, errors.New("no node given (expected the name of one of loadBalancers)")
	}
	me, err := state.FindNode(s.LoadBalancers, opts.Node, nil)
	if err != nil {
		return nil, err
	}
	if opts.Agent == "" {
		opts.Agent = DefaultAgentPath
	}
	healthURL, err := s.HealthURL(opts.Node)
	if err != nil {
		return nil, err
	}
	k := s.Keepalived
	v := &keepalivedView{
		Cluster:         s.Cluster,
		Node:            opts.Node,
		Interface:       k.Interface,
		Address:         s.LoadBalancers[me].Address,
		Agent:           opts.Agent,
		CheckURL:        healthURL,
		PeerStats:       s.PeerStatsURLs(opts.Node),
		TrackFile:       path.Join(cmp.Or(opts.StateDir, failoverStateDir), TrackFileName),
		BackendsFile:    path.Join(cmp.Or(opts.StateDir, failoverStateDir), BackendsFileName),
		MaintenanceFile: path.Join(cmp.Or(opts.StateDir, failoverStateDir), MaintenanceFileName),
		StateDir:        opts.StateDir,
		NotifyFlags:     []string{"--node", opts.Node, "--require-vip"},
	}
	v.Version3, v.AdvertInt = advertInt(time.Duration(k.AdvertInterval))
	for i, lb := range s.LoadBalancers {
		if i != me {
			v.Peers = append(v.Peers, lb.Address)
		}
	}
	if opts.StatePath != "" {
		v.NotifyFlags = append(v.NotifyFlags, "--state", opts.StatePath)
	}
	if opts.StateDir != "" {
		v.NotifyFlags = append(v.NotifyFlags, "--state-dir", opts.StateDir)
	}
	v.Instances = instanceViews(s, me, cmp.Or(opts.StateDir, failoverStateDir))
	v.Hash = viewHash(v)
	return v, nil
}

// advertInt formats an advertisement interval for advert_int: whole
// seconds for VRRPv2, keepalived's default; otherwise seconds with up to
// two decimals, which needs VRRPv3 (it counts centiseconds).
func advertInt(d time.Duration) (v3 bool, text string) {
	if d%time.Second == 0 {
		return false, strconv.FormatInt(int64(d/time.Second), 10)
	}
	centis := int64(d / (10 * time.Millisecond))
	frac := strings.TrimRight(fmt.Sprintf("%02d", centis%100), "0")
	return true, strconv.FormatInt(centis/100, 10) + "." + frac
}

// viewHash identifies what keepalived.conf is rendered from, so the header
// (and with it the file) changes only when keepalived's own settings do:
// an edit elsewhere in the state must not reload keepalived. A pair with
// one IPv4 Floating IP and nothing else is hashed as its view was before a
// pair could have more (see legacyView): upgrading hakgen must not rewrite
// keepalived.conf, and reload keepalived, for nothing.
func viewHash(v *keepalivedView) string {
	var hashed any = v
	if l, ok := v.legacy(); ok {
		hashed = l
	}
	data, err := json.Marshal(hashed)
	if err != nil {
		panic(fmt.Sprintf("render: hashing the keepalived view: %v", err)) // plain fields only
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:12]
}

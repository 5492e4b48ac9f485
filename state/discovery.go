package state

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hakgen/hakgen/hetzner/selector"
)

// Discovery finds backend servers elsewhere than in the state file; they
// join the static controlPlanes and workers.
type Discovery struct {
	HCloud *HCloudDiscovery `yaml:"hcloud" json:"hcloud,omitempty"`
}

// HCloudDiscovery selects servers of the Hetzner Cloud project by their
// labels.
type HCloudDiscovery struct {
	// Network is the private network, by name or ID, whose address of
	// each server becomes its address here.
	Network NameOrID `yaml:"network" json:"network"`
	// Interval is the poll period.
	Interval Duration `yaml:"interval" json:"interval"`
	// ControlPlanes and Workers are Hetzner label selectors; an empty one
	// discovers nothing for its list.
	ControlPlanes string `yaml:"controlPlanes" json:"controlPlanes,omitempty"`
	Workers       string `yaml:"workers" json:"workers,omitempty"`
}

// NameOrID is a Hetzner resource given by name or by numeric ID; in YAML
// a bare number or a string.
type NameOrID string

// Bounds and default of discovery.hcloud.interval: the project's budget is
// 3600 requests an hour, shared by both load balancers, the failover and
// the cloud controller manager.
const (
	DefaultDiscoveryInterval = Duration(30 * time.Second)
	MinDiscoveryInterval     = 10 * time.Second
	MaxDiscoveryInterval     = time.Hour
)

// Lists of servers, as discovery and messages name them.
const (
	ListControlPlanes = "controlPlanes"
	ListWorkers       = "workers"
)

// HCloudDiscovery is the discovery.hcloud section; nil when the state has
// none.
func (s *State) HCloudDiscovery() *HCloudDiscovery {
	if s.Discovery == nil {
		return nil
	}
	return s.Discovery.HCloud
}

// Selector is the label selector of list (ListControlPlanes or
// ListWorkers); "" when nothing is discovered for it.
func (d *HCloudDiscovery) Selector(list string) string {
	if d == nil {
		return ""
	}
	if list == ListControlPlanes {
		return d.ControlPlanes
	}
	return d.Workers
}

// discovers reports whether discovery may add servers to list.
func (s *State) discovers(list string) bool { return s.HCloudDiscovery().Selector(list) != "" }

// hasWorkers reports whether the state has workers, or may get some from
// discovery: the ingress frontends are rendered for them.
func (s *State) hasWorkers() bool { return len(s.Workers) > 0 || s.discovers(ListWorkers) }

// ErrNoControlPlane is a state whose control planes are all to be
// discovered, before any has been.
var ErrNoControlPlane = errors.New("no control plane")

// Rejected is a discovered server WithDiscovered left out, and why.
type Rejected struct {
	List   string // ListControlPlanes or ListWorkers
	Server Server
	Reason string
}

// WithDiscovered returns a copy of s whose controlPlanes and workers are
// the state's own followed by cps and workers: the state as it is
// applied. A discovered server that would make the state invalid (a name
// or address already used in its list, an address of a load balancer or
// the Floating IP, a name that is no DNS label) is left out and returned
// in rejected with the reason. s itself is not changed. The error reports
// a state that is invalid even so (no control plane at all: nothing was
// discovered yet).
func (s *State) WithDiscovered(cps, workers []Server) (out *State, rejected []Rejected, err error) {
	static := map[string]int{ListControlPlanes: len(s.ControlPlanes), ListWorkers: len(s.Workers)}
	found := map[string][]Server{ListControlPlanes: cps, ListWorkers: workers}
	for range len(cps) + len(workers) + 1 {
		c := *s
		c.ControlPlanes = append(append([]Server(nil), s.ControlPlanes...), found[ListControlPlanes]...)
		c.Workers = append(append([]Server(nil), s.Workers...), found[ListWorkers]...)
		drop, others := c.discoveredProblems(static)
		if len(drop) == 0 {
			return c.applicable(rejected, others)
		}
		for list, byIndex := range drop {
			var keep []Server
			for i, srv := range found[list] {
				if reason, bad := byIndex[i]; bad {
					rejected = append(rejected, Rejected{List: list, Server: srv, Reason: reason})
					continue
				}
				keep = append(keep, srv)
			}
			found[list] = keep
		}
	}
	return nil, rejected, fmt.Errorf("discovered servers: no valid set found") // each pass drops at least one
}

var serverPath = regexp.MustCompile(`^(controlPlanes|workers)\[(\d+)\]`)

// discoveredProblems maps the discovered servers (those after the first
// static[list] of each list) that have a problem to its message, by list
// and index among the discovered ones; others are the state's other
// errors.
func (s *State) discoveredProblems(static map[string]int) (out map[string]map[int]string, others Problems) {
	out = map[string]map[int]string{}
	for _, p := range s.Validate() {
		if p.Warning {
			continue
		}
		m := serverPath.FindStringSubmatch(p.Path)
		if m == nil {
			others = append(others, p)
			continue
		}
		i, _ := strconv.Atoi(m[2])
		if i -= static[m[1]]; i < 0 {
			others = append(others, p)
			continue
		}
		if out[m[1]] == nil {
			out[m[1]] = map[int]string{}
		}
		if _, seen := out[m[1]][i]; !seen {
			out[m[1]][i] = strings.TrimPrefix(p.Path, m[0]+".") + ": " + p.Msg
		}
	}
	return out, others
}

// applicable returns s when it can be applied: with a control plane, and
// without errors (its validation's errors are errs).
func (s *State) applicable(rejected []Rejected, errs Problems) (*State, []Rejected, error) {
	if len(s.ControlPlanes) == 0 {
		return nil, rejected, fmt.Errorf("%w: the state lists none and discovery found none with the labels %q yet", ErrNoControlPlane, s.HCloudDiscovery().Selector(ListControlPlanes))
	}
	if err := errs.Err(); err != nil {
		return nil, rejected, err
	}
	return s, rejected, nil
}

var networkName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

// discovery checks the discovery section.
func (v *validator) discovery() {
	d := v.s.Discovery
	if d == nil {
		return
	}
	h := d.HCloud
	if h == nil {
		v.errorf("discovery", "no hcloud section (expected hcloud: {network, controlPlanes and/or workers})")
		return
	}
	const p = "discovery.hcloud."
	switch n := string(h.Network); {
	case n == "":
		v.errorf(p+"network", "no network (expected the name or ID of the private network whose address each server gets, e.g. k8s)")
	case allDigits.MatchString(n):
		if id, err := strconv.ParseInt(n, 10, 64); err != nil || id <= 0 {
			v.errorf(p+"network", "%s is not a network ID (expected a positive ID from `hcloud network list`, or the network's name)", n)
		}
	case !networkName.MatchString(n):
		v.errorf(p+"network", "%q is not a network name (expected 1-63 letters, digits, '.', '_' or '-', as `hcloud network list` shows it)", n)
	}
	v.duration(p+"interval", h.Interval, MinDiscoveryInterval, Duration(MaxDiscoveryInterval))
	if h.ControlPlanes == "" && h.Workers == "" {
		v.errorf("discovery.hcloud", "no label selector (expected controlPlanes and/or workers, e.g. workers: \"cluster=prod,role=worker\")")
	}
	for _, list := range []string{ListControlPlanes, ListWorkers} {
		if sel := h.Selector(list); sel != "" {
			if _, err := selector.Parse(sel); err != nil {
				v.errorf(p+list, "%q is not a label selector: %v", sel, err)
			}
		}
	}
}

// String is the name or ID as written.
func (n NameOrID) String() string { return string(n) }

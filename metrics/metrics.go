// Package metrics serves hakgen-agent's own Prometheus metrics: what the
// daemon reconciled and reloaded, the state it applied, this node's VRRP
// state (in each VRRP instance) as keepalived's notify runs recorded it,
// where each address pointed at the healer's last check, the failovers and
// their duration, and the Hetzner API requests made.
//
// Every value is read at scrape time from what the parts of hakgen publish
// anyway: the daemon's status file, and the files notify runs and the
// healer keep in the state directory (/run/hakgen). Nothing is counted
// twice, and the metrics say exactly what `hakgen-agent status` says.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/failover"
)

// Sources are where the metrics are read from.
type Sources struct {
	StatusFile string          // the daemon's status file
	Store      *failover.Store // notify's state directory
	// Discovery is discovery's status file (discovery.StatusPath); none
	// when empty or missing.
	Discovery string
}

// Handler serves the metrics of src, and the Go runtime's and process's.
func Handler(src Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(src), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// VRRPStates are the states hakgen_vrrp_state reports, one series each.
var VRRPStates = []failover.State{failover.Master, failover.Backup, failover.Fault, failover.Stop}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The metrics, named as the alert rules and the dashboard use them.
var (
	reconciles      = desc("hakgen_reconciles_total", "Reconciles of each managed file, by outcome.", "target", "outcome")
	reloads         = desc("hakgen_reloads_total", "Reloads of each managed file's service, by result (ok, failed).", "target", "result")
	runtimeUpdates  = desc("hakgen_runtime_updates_total", "Server changes applied through HAProxy's Runtime API without a reload, by result.", "result")
	lastApply       = desc("hakgen_last_apply_timestamp_seconds", "When the state last applied was brought in force.")
	appliedInfo     = desc("hakgen_applied_state_info", "The state applied (1), by hash.", "hash")
	healthy         = desc("hakgen_state_healthy", "1 while the last reconcile succeeded, 0 while it failed.")
	vrrpState       = desc("hakgen_vrrp_state", "1 for this node's VRRP state as keepalived's notify last recorded it, 0 for the others.", "state")
	vrrpSince       = desc("hakgen_vrrp_state_since_timestamp_seconds", "When the VRRP state was recorded.")
	instanceState   = desc("hakgen_vrrp_instance_state", "1 for this node's state in each VRRP instance as keepalived's notify last recorded it, 0 for the others.", "vrrp_instance", "state")
	addressHere     = desc("hakgen_address_on_this_node", "1 when the healer's last check found the address (a Floating IP, the private VIP's route) pointing to this node, 0 when elsewhere.", "address", "vrrp_instance")
	fipHere         = desc("hakgen_floating_ip_on_this_node", "1 when the healer's last check found the Floating IP on this server, 0 when elsewhere (pairs with one Floating IP; see hakgen_address_on_this_node).")
	fipOwner        = desc("hakgen_floating_ip_owner_info", "The server the Floating IP pointed to at the healer's last check (1).", "server")
	healChecks      = desc("hakgen_heal_checks_total", "The healer's checks of the Floating IP, by outcome.", "outcome")
	healRepairs     = desc("hakgen_heal_repairs_total", "Floating IP assignments the healer made (it pointed elsewhere).")
	healLast        = desc("hakgen_heal_last_check_timestamp_seconds", "When the healer last checked the Floating IP.")
	failovers       = desc("hakgen_failovers_total", "MASTER notify runs, by result (ok, superseded, failed, deadline, not-assigned, action-error, auth).", "result")
	failoverSeconds = desc("hakgen_failover_duration_seconds", "How long MASTER notify runs took until the Floating IP pointed here, or they ended.")
	apiRequests     = desc("hakgen_hcloud_requests_total", "Hetzner Cloud API requests, by who made them (notify, heal, discovery).", "source")
	rateLimit       = desc("hakgen_hcloud_ratelimit_remaining", "The project's API requests left this hour, as the latest answer reported.")
)

type collector struct{ src Sources }

func newCollector(src Sources) *collector { return &collector{src: src} }

func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.collectAgent(ch)
	c.collectFailover(ch)
	c.collectDiscovery(ch)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// collectAgent reports the daemon's status file.
func (c *collector) collectAgent(ch chan<- prometheus.Metric) {
	st, err := agent.ReadStatus(c.src.StatusFile)
	if err != nil || st.Last == nil {
		return // before the first reconcile
	}
	for name, tc := range st.Counts.Targets {
		for outcome, n := range tc.Outcomes {
			counter(ch, reconciles, float64(n), name, string(outcome))
		}
		counter(ch, reloads, float64(tc.Reloads), name, "ok")
		counter(ch, reloads, float64(tc.ReloadsFailed), name, "failed")
	}
	counter(ch, runtimeUpdates, float64(st.Counts.RuntimeUpdates), "ok")
	counter(ch, runtimeUpdates, float64(st.Counts.RuntimeFallbacks), "fell-back")
	if st.AppliedHash != "" {
		gauge(ch, lastApply, seconds(st.AppliedAt))
		gauge(ch, appliedInfo, 1, st.AppliedHash)
	}
	gauge(ch, healthy, boolValue(st.Healthy))
}

// collectFailover reports what notify runs and the healer recorded.
func (c *collector) collectFailover(ch chan<- prometheus.Metric) {
	if rec, err := c.src.Store.Latest(); err == nil && rec.Seq > 0 {
		for _, s := range VRRPStates {
			gauge(ch, vrrpState, boolValue(isState(rec, s)), string(s))
		}
		gauge(ch, vrrpSince, seconds(rec.Recorded))
	}
	c.collectInstances(ch)
	h, _ := c.src.Store.History()
	for result, n := range h.Results {
		counter(ch, failovers, float64(n), result)
	}
	buckets := map[float64]uint64{}
	for i, le := range failover.FailoverBuckets {
		if i < len(h.Buckets) {
			buckets[le] = uint64(h.Buckets[i])
		}
	}
	ch <- prometheus.MustNewConstHistogram(failoverSeconds, uint64(h.Count), h.SumSeconds, buckets)
	heal, _ := c.src.Store.Heal()
	counter(ch, apiRequests, float64(h.Requests), "notify")
	counter(ch, apiRequests, float64(heal.TotalRequests), "heal")
	for outcome, n := range heal.Counts {
		counter(ch, healChecks, float64(n), string(outcome))
	}
	counter(ch, healRepairs, float64(heal.Counts[failover.Healed]))
	if !heal.At.IsZero() {
		gauge(ch, healLast, seconds(heal.At))
	}
	targets, _ := c.src.Store.HealTargets()
	if heal.Owner != 0 && len(targets) <= 1 {
		gauge(ch, fipHere, boolValue(heal.Owner == heal.Me))
		gauge(ch, fipOwner, 1, strconv.FormatInt(heal.Owner, 10))
	}
	for key, t := range targets {
		if t.Here != nil {
			gauge(ch, addressHere, boolValue(*t.Here), key, t.VRRPInstance)
		}
	}
	if rl, ok := c.latestRateLimit(h, heal); ok {
		gauge(ch, rateLimit, float64(rl))
	}
}

// collectInstances reports this node's state in each VRRP instance that
// keepalived named in a notify run (a short-form run counts for every one).
func (c *collector) collectInstances(ch chan<- prometheus.Metric) {
	ins, _ := c.src.Store.Instances()
	for name := range ins {
		if name == "" {
			continue
		}
		rec, err := c.src.Store.LatestFor(name)
		if err != nil {
			continue
		}
		for _, s := range VRRPStates {
			gauge(ch, instanceState, boolValue(isState(rec, s)), name, string(s))
		}
	}
}

// isState reports whether rec is in state s, DELETED counting as STOP.
func isState(rec failover.Record, s failover.State) bool {
	return rec.State == s || (s == failover.Stop && rec.State == failover.Deleted)
}

// latestRateLimit is the rate-limit budget of the most recent answer that
// reported one, of the last failover, the last heal and the last poll of
// discovery.
func (c *collector) latestRateLimit(h failover.History, heal failover.HealCheck) (int, bool) {
	var at time.Time
	rl, ok := 0, false
	if h.Last != nil && h.Last.RateLimit > 0 {
		at, rl, ok = h.Last.At, h.Last.RateLimit, true
	}
	if heal.RateLimit > 0 && heal.At.After(at) {
		at, rl, ok = heal.At, heal.RateLimit, true
	}
	if d := c.discovery(); d != nil && d.RateLimit != nil && d.LastPoll != nil && d.LastPoll.At.After(at) {
		rl, ok = d.RateLimit.Remaining, true
	}
	return rl, ok
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

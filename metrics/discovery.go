package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/state"
)

// The metrics of discovery.
var (
	discovered       = desc("hakgen_discovered_servers", "Servers discovered by their Hetzner labels and in force, by list (controlPlanes, workers).", "list")
	discoveryPolls   = desc("hakgen_discovery_polls_total", "Polls of the Hetzner API for discovered servers, by result (ok, failed).", "result")
	discoveryHeld    = desc("hakgen_discovery_held", "1 while a result that removes many servers of the list is held back.", "list")
	discoverySuccess = desc("hakgen_discovery_last_success_timestamp_seconds", "When a poll for discovered servers last succeeded.")
)

// discovery reads discovery's status; nil when there is none.
func (c *collector) discovery() *discovery.Status {
	if c.src.Discovery == "" {
		return nil
	}
	st, err := discovery.ReadStatus(c.src.Discovery)
	if err != nil {
		return nil
	}
	return st
}

// collectDiscovery reports discovery's status, when the agent polls.
func (c *collector) collectDiscovery(ch chan<- prometheus.Metric) {
	st := c.discovery()
	if st == nil {
		return
	}
	counter(ch, apiRequests, float64(st.Requests), "discovery")
	counter(ch, discoveryPolls, float64(st.Polls-st.Failures), "ok")
	counter(ch, discoveryPolls, float64(st.Failures), "failed")
	held := map[string]bool{}
	for _, h := range st.Held {
		held[h.List] = true
	}
	for _, list := range []string{state.ListControlPlanes, state.ListWorkers} {
		if _, polled := st.Selectors[list]; !polled {
			continue
		}
		n := len(st.Servers.Workers)
		if list == state.ListControlPlanes {
			n = len(st.Servers.ControlPlanes)
		}
		gauge(ch, discovered, float64(n), list)
		gauge(ch, discoveryHeld, boolValue(held[list]), list)
	}
	if !st.LastSuccess.IsZero() {
		gauge(ch, discoverySuccess, seconds(st.LastSuccess))
	}
}

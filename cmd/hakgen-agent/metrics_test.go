package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/failover"
)

// metricsAddr is where the daemon serves its metrics, from its log line.
func (d *daemon) metricsAddr(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`serving metrics\s+\{"listen": "([^"]+)"\}`).FindStringSubmatch(d.stderr.String())
	if m == nil {
		t.Fatalf("the daemon did not say where it serves metrics:\n%s", d.stderr)
	}
	return m[1]
}

// scrape reads the agent's /metrics.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// value is the value of the series of name whose labels include labels
// ("k=v" each); -1 when there is none.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := families[name]
	if !ok {
		return -1
	}
series:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetricsFollowWhatTheAgentDid scrapes /metrics after a reconcile, a
// refused state and a notify run that moved the Floating IP, and wants
// each value to say so.
func TestMetricsFollowWhatTheAgentDid(t *testing.T) {
	d := startDaemon(t, daemonState)
	addr := d.metricsAddr(t)
	m := scrape(t, addr)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hakgen_reconciles_total", []string{"target=haproxy", "outcome=applied"}, 1},
		{"hakgen_reloads_total", []string{"target=haproxy", "result=ok"}, 1},
		{"hakgen_state_healthy", nil, 1},
	} {
		if got := value(m, c.name, c.labels...); got != c.want {
			t.Errorf("after the first reconcile %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	st, _ := agent.ReadStatus(d.status)
	if got := value(m, "hakgen_applied_state_info", "hash="+st.AppliedHash); got != 1 {
		t.Errorf("hakgen_applied_state_info{hash=%s} = %v, want 1", st.AppliedHash, got)
	}

	writeNotifyFile(t, d.state, daemonState+"workers: nope\n", 0o644)
	d.waitStatus(t, "the refused state", func(s *agent.Status) bool { return s.Last.Outcome == agent.OutcomeInvalid })
	m = scrape(t, addr)
	if got := value(m, "hakgen_reconciles_total", "target=haproxy", "outcome=invalid"); got != 1 {
		t.Errorf("after a refused state hakgen_reconciles_total{outcome=invalid} = %v, want 1", got)
	}
	if got := value(m, "hakgen_state_healthy"); got != 0 {
		t.Errorf("after a refused state hakgen_state_healthy = %v, want 0", got)
	}

	w := newNotifyWorld(t, "10.0.0.5", true)
	if code, stderr := w.notify(t, "--state-dir", d.dir+"/run", "--node", "lb1", "MASTER"); code != exitOK {
		t.Fatalf("notify: exit %d\n%s", code, stderr)
	}
	m = scrape(t, addr)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hakgen_vrrp_state", []string{"state=MASTER"}, 1},
		{"hakgen_vrrp_state", []string{"state=BACKUP"}, 0},
		{"hakgen_failovers_total", []string{"result=ok"}, 1},
		{"hakgen_failover_duration_seconds", nil, 1},
		{"hakgen_hcloud_requests_total", []string{"source=notify"}, float64(len(assignPollVerify))},
		{"hakgen_hcloud_ratelimit_remaining", nil, float64(3600 - len(assignPollVerify))},
	} {
		if got := value(m, c.name, c.labels...); got != c.want {
			t.Errorf("after a MASTER run %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestStatusShowsThePair: after a MASTER run, status says this node is
// MASTER, since when, and how the failover went, in text and in JSON.
func TestStatusShowsThePair(t *testing.T) {
	d := startDaemon(t, daemonState)
	w := newNotifyWorld(t, "10.0.0.5", true)
	if code, stderr := w.notify(t, "--state-dir", d.dir+"/run", "--node", "lb1", "MASTER"); code != exitOK {
		t.Fatalf("notify: exit %d\n%s", code, stderr)
	}
	_, out, _ := runCLI(t, "status", "--status-file", d.status, "--state-dir", d.dir+"/run")
	for _, want := range []string{"vrrp:", "is MASTER since", "last failover:", ": ok in ", "3 API requests"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runCLI(t, "status", "--json", "--status-file", d.status, "--state-dir", d.dir+"/run")
	var doc struct {
		Healthy bool `json:"healthy"`
		Pair    struct {
			VRRPState    string `json:"vrrpState"`
			LastFailover struct {
				Result   string `json:"result"`
				Requests int    `json:"requests"`
			} `json:"lastFailover"`
		} `json:"pair"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if !doc.Healthy || doc.Pair.VRRPState != "MASTER" || doc.Pair.LastFailover.Result != "ok" || doc.Pair.LastFailover.Requests != 3 {
		t.Errorf("status --json: %+v", doc)
	}

	// A maintenance flag left set holds the node out of MASTER: status says so.
	if strings.Contains(out, "maintenance") {
		t.Errorf("status --json shows maintenance with no flag set:\n%s", out)
	}
	writeNotifyFile(t, d.dir+"/run/maintenance", "1\n", 0o644)
	_, out, _ = runCLI(t, "status", "--status-file", d.status, "--state-dir", d.dir+"/run")
	if !strings.Contains(out, "maintenance:     set: this node is held out of MASTER") || !strings.Contains(out, "echo 0 > "+d.dir+"/run/maintenance") {
		t.Errorf("status does not show the maintenance flag:\n%s", out)
	}
}

// TestStatusShowsEachInstanceAndAddress: with two VRRP instances and
// healers for several addresses, status shows this node's state in each
// instance and where each address pointed.
func TestStatusShowsEachInstanceAndAddress(t *testing.T) {
	d := startDaemon(t, daemonState)
	store := failover.NewStore(d.dir + "/run")
	for _, ev := range []failover.Event{
		{State: failover.Master, Kind: "INSTANCE", Name: "hakgen-prod", Priority: 250},
		{State: failover.Backup, Kind: "INSTANCE", Name: "hakgen-prod-lb2", Priority: 240},
	} {
		if _, err := store.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	yes, no := true, false
	for _, c := range []failover.HealCheck{
		{At: time.Now(), Outcome: failover.Owned, Owner: 1001, Me: 1001, Target: "floating-ip-4711", Here: &yes},
		{At: time.Now(), Outcome: failover.Yielded, Holder: "gateway 10.0.0.6 (lb2)", Target: "private-vip", Here: &no},
	} {
		if err := store.WriteHeal(c); err != nil {
			t.Fatal(err)
		}
	}
	_, out, _ := runCLI(t, "status", "--status-file", d.status, "--state-dir", d.dir+"/run")
	for _, want := range []string{
		"is MASTER of hakgen-prod since", "(INSTANCE hakgen-prod MASTER 250)",
		"is BACKUP of hakgen-prod-lb2 since",
		"floating-ip-4711: on this node at the last check",
		"private-vip:     on gateway 10.0.0.6 (lb2) at the last check",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runCLI(t, "status", "--json", "--status-file", d.status, "--state-dir", d.dir+"/run")
	var doc struct {
		Pair struct {
			Instances map[string]failover.Record    `json:"instances"`
			Addresses map[string]failover.HealCheck `json:"addresses"`
		} `json:"pair"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if doc.Pair.Instances["hakgen-prod-lb2"].State != failover.Backup || doc.Pair.Addresses["private-vip"].Holder == "" {
		t.Errorf("status --json: %+v", doc.Pair)
	}
}

package metrics_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/metrics"
)

// monitoring is the directory of the alerting rules and the dashboard.
const monitoring = "../packaging/monitoring"

// served scrapes the metrics of a node that has done everything once: a
// reconcile, a runtime update, a MASTER run, a heal check and discovery's
// polls (the last of them a minute before the heal check).
func served(t *testing.T) string {
	t.Helper()
	return servedWith(t, time.Now().Add(-time.Minute))
}

// servedWith is served with discovery's last poll at lastPoll; its answer
// left 3400 requests.
func servedWith(t *testing.T, lastPoll time.Time) string {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	st := agent.Status{PID: 1, StartedAt: now, UpdatedAt: now, StateFile: "state.yaml", AppliedHash: "abc", AppliedAt: now, Healthy: true,
		Last: &agent.Reconcile{At: now, Outcome: agent.OutcomeApplied},
		Counts: agent.Counts{Reconciles: 1, Reloads: 1, RuntimeUpdates: 1, Targets: map[string]agent.TargetCounts{
			"haproxy": {Outcomes: map[agent.Outcome]int{agent.OutcomeApplied: 1}, Reloads: 1}}}}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	statusFile := filepath.Join(dir, "status.json")
	if err := os.WriteFile(statusFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	store := failover.NewStore(filepath.Join(dir, "run"))
	if _, err := store.Record(context.Background(), failover.Event{State: failover.Master, Kind: "INSTANCE", Name: "hakgen-prod", Priority: 250}); err != nil {
		t.Fatal(err)
	}
	if err := store.AddRun(context.Background(), failover.FailoverRun{At: now, Result: "ok", Seconds: 0.4, Requests: 3, RateLimit: 3500}); err != nil {
		t.Fatal(err)
	}
	here := true
	if err := store.WriteHeal(failover.HealCheck{At: now, Outcome: failover.Owned, Owner: 1001, Me: 1001, Requests: 1,
		Counts: map[failover.Outcome]int{failover.Owned: 1}, TotalRequests: 1,
		Target: "floating-ip-4711", VRRPInstance: "hakgen-prod", Here: &here}); err != nil {
		t.Fatal(err)
	}
	disc := discovery.Status{Selectors: map[string]string{"workers": "role=worker"}, Polls: 5, Failures: 1, Requests: 4,
		Servers:     discovery.Set{Workers: []discovery.Server{{Name: "w4", Address: "10.0.0.24"}, {Name: "w5", Address: "10.0.0.25"}}},
		LastSuccess: lastPoll, LastPoll: &discovery.Poll{At: lastPoll}, RateLimit: &discovery.RateLimit{Limit: 3600, Remaining: 3400}}
	data, err = json.Marshal(disc)
	if err != nil {
		t.Fatal(err)
	}
	discFile := filepath.Join(dir, discovery.StatusName)
	if err := os.WriteFile(discFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	metrics.Handler(metrics.Sources{StatusFile: statusFile, Store: store, Discovery: discFile}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

var metricName = regexp.MustCompile(`\bhakgen_[a-z_]+`)

// TestRulesAndDashboardUseServedMetrics: every hakgen metric the alerting
// rules and the dashboard name is one the agent serves.
func TestRulesAndDashboardUseServedMetrics(t *testing.T) {
	body := served(t)
	have := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(line, "#") {
			name, _, _ := strings.Cut(f[0], "{")
			have[name] = true
		}
	}
	for _, file := range []string{"hakgen-alerts.yaml", "hakgen-dashboard.json"} {
		data, err := os.ReadFile(filepath.Join(monitoring, file))
		if err != nil {
			t.Fatal(err)
		}
		names := metricName.FindAllString(string(data), -1)
		if len(names) < 5 {
			t.Fatalf("%s names only %v", file, names)
		}
		for _, n := range names {
			if !have[n] {
				t.Errorf("%s uses %s, which the agent does not serve", file, n)
			}
		}
	}
}

// TestServedValues: the values say what the sources say.
func TestServedValues(t *testing.T) {
	body := served(t)
	for _, want := range []string{
		`hakgen_vrrp_state{state="MASTER"} 1`,
		`hakgen_vrrp_state{state="BACKUP"} 0`,
		`hakgen_floating_ip_on_this_node 1`,
		`hakgen_floating_ip_owner_info{server="1001"} 1`,
		`hakgen_failovers_total{result="ok"} 1`,
		`hakgen_failover_duration_seconds_bucket{le="0.5"} 1`,
		`hakgen_failover_duration_seconds_bucket{le="0.25"} 0`,
		`hakgen_hcloud_requests_total{source="notify"} 3`,
		`hakgen_hcloud_requests_total{source="heal"} 1`,
		`hakgen_reconciles_total{outcome="applied",target="haproxy"} 1`,
		`hakgen_runtime_updates_total{result="ok"} 1`,
		`hakgen_applied_state_info{hash="abc"} 1`,
		`hakgen_state_healthy 1`,
		`hakgen_hcloud_requests_total{source="discovery"} 4`,
		`hakgen_discovered_servers{list="workers"} 2`,
		`hakgen_discovery_held{list="workers"} 0`,
		`hakgen_discovery_polls_total{result="ok"} 4`,
		`hakgen_discovery_polls_total{result="failed"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "hakgen_hcloud_ratelimit_remaining 3500\n") == false {
		t.Errorf("metrics lack the rate limit left:\n%s", body)
	}
}

// TestRateLimitOfTheLatestAnswer: the budget left is the newest answer's,
// discovery's when its poll came after the failover and the heal check.
func TestRateLimitOfTheLatestAnswer(t *testing.T) {
	body := servedWith(t, time.Now().Add(time.Minute))
	if !strings.Contains(body, "hakgen_hcloud_ratelimit_remaining 3400\n") {
		t.Errorf("metrics lack discovery's rate limit:\n%s", body)
	}
	if strings.Contains(body, "hakgen_discovered_servers{list=\"controlPlanes\"}") {
		t.Error("a list without a selector is reported")
	}
}

// TestServedInstancesAndAddresses: with two VRRP instances and two healed
// addresses, each instance's state and each address's place are served;
// the one-address gauges are not, since they could only show one.
func TestServedInstancesAndAddresses(t *testing.T) {
	dir := t.TempDir()
	store := failover.NewStore(dir)
	for _, ev := range []failover.Event{
		{State: failover.Master, Kind: "INSTANCE", Name: "hakgen-prod"},
		{State: failover.Backup, Kind: "INSTANCE", Name: "hakgen-prod-lb2"},
	} {
		if _, err := store.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	yes, no := true, false
	now := time.Now()
	for _, c := range []failover.HealCheck{
		{At: now, Outcome: failover.Owned, Owner: 1001, Me: 1001, Target: "floating-ip-4711", VRRPInstance: "hakgen-prod", Here: &yes},
		{At: now, Outcome: failover.Yielded, Holder: "gateway 10.0.0.6 (lb2)", Target: "private-vip", VRRPInstance: "hakgen-prod-lb2", Here: &no},
	} {
		if err := store.WriteHeal(c); err != nil {
			t.Fatal(err)
		}
	}
	rec := httptest.NewRecorder()
	metrics.Handler(metrics.Sources{StatusFile: filepath.Join(dir, "none"), Store: store}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`hakgen_vrrp_instance_state{state="MASTER",vrrp_instance="hakgen-prod"} 1`,
		`hakgen_vrrp_instance_state{state="BACKUP",vrrp_instance="hakgen-prod"} 0`,
		`hakgen_vrrp_instance_state{state="BACKUP",vrrp_instance="hakgen-prod-lb2"} 1`,
		`hakgen_address_on_this_node{address="floating-ip-4711",vrrp_instance="hakgen-prod"} 1`,
		`hakgen_address_on_this_node{address="private-vip",vrrp_instance="hakgen-prod-lb2"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "hakgen_floating_ip_on_this_node ") {
		t.Errorf("the one-address gauge is served for two addresses:\n%s", body)
	}
}

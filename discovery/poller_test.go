package discovery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/state"
)

// testToken is what the fake demands; no log line may show it.
const testToken = "discovery-test-token"

// network is the fake project's private network.
const network int64 = 7

// rig is a poller of the fake API, with the state it polls for.
type rig struct {
	t         *testing.T
	fake      *hetznertest.Fake
	dir       string
	tokenFile string
	logs      *observer.ObservedLogs
	p         *Poller
	state     *state.State
}

func newRig(t *testing.T, fake *hetznertest.Fake) *rig {
	t.Helper()
	if fake == nil {
		fake = hetznertest.New(t)
		fake.AddNetwork(network, "k8s", "10.0.0.0/16")
	}
	fake.RequireToken(testToken)
	dir := t.TempDir()
	r := &rig{t: t, fake: fake, dir: dir, tokenFile: filepath.Join(dir, "hcloud-token")}
	if err := os.WriteFile(r.tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start()
	return r
}

// start makes a new poller on the rig's files, as a restarted agent does.
func (r *rig) start() {
	core, logs := observer.New(zapcore.DebugLevel)
	r.logs = logs
	log := zap.New(core)
	r.p = New(Config{Connect: HCloud(r.fake.APIEndpoint(), "test", log), Path: filepath.Join(r.dir, "discovered.json"),
		StatusPath: filepath.Join(r.dir, "run", StatusName)}, log)
}

// stateYAML is the rig's state: cp1 static, workers discovered by label,
// and whatever more is given.
func (r *rig) stateYAML(more string) string {
	return fmt.Sprintf("controlPlanes:\n  - {name: cp1, address: 10.0.0.11}\nhcloud: {tokenFile: %s}\n"+
		"discovery:\n  hcloud:\n    network: k8s\n    workers: \"cluster=prod,role=worker\"\n%s", r.tokenFile, more)
}

// complete gives the poller the state and returns the state to apply.
func (r *rig) complete(yaml string) *state.State {
	r.t.Helper()
	s, _, err := state.Parse("state.yaml", []byte(yaml))
	if err != nil {
		r.t.Fatal(err)
	}
	r.state = s
	out, err := r.p.Complete(s)
	if err != nil {
		r.t.Fatalf("Complete: %v", err)
	}
	return out
}

func (r *rig) poll() Status {
	r.t.Helper()
	r.p.pollOnce(r.t.Context())
	return r.p.Status()
}

// worker puts a running, labelled worker with an address in the network
// into the fake.
func (r *rig) worker(id int64, name, addr string) {
	r.fake.PutServer(hetznertest.ServerSpec{ID: id, Name: name,
		Labels: map[string]string{"cluster": "prod", "role": "worker"}, Private: map[int64]string{network: addr}})
}

func names(list []state.Server) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Name+"@"+s.Address)
	}
	return out
}

func setNames(list []Server) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Name+"@"+s.Address)
	}
	return out
}

// messages returns the log lines with msg.
func (r *rig) messages(msg string) []observer.LoggedEntry {
	return r.logs.FilterMessage(msg).All()
}

func (r *rig) noToken() {
	r.t.Helper()
	for _, e := range r.logs.All() {
		if strings.Contains(e.Message, testToken) || strings.Contains(fmt.Sprint(e.ContextMap()), testToken) {
			r.t.Errorf("a log line shows the token: %s %v", e.Message, e.ContextMap())
		}
	}
}

func changed(p *Poller) bool {
	select {
	case <-p.Changed():
		return true
	default:
		return false
	}
}

// TestPollAddsServersAndKeepsThem: a poll finds the labelled workers, the
// state to apply has them after the static ones, each addition is logged
// with name and address, Changed fires, and the set is kept in the file.
func TestPollAddsServersAndKeepsThem(t *testing.T) {
	r := newRig(t, nil)
	r.worker(3001, "w1", "10.0.1.1")
	r.worker(3002, "w2", "10.0.1.2")
	r.fake.PutServer(hetznertest.ServerSpec{ID: 3003, Name: "x1", Labels: map[string]string{"cluster": "staging", "role": "worker"},
		Private: map[int64]string{network: "10.0.1.3"}})
	if out := r.complete(r.stateYAML("")); len(out.Workers) != 0 {
		t.Fatalf("workers before the first poll: %v", names(out.Workers))
	}
	st := r.poll()
	if !changed(r.p) {
		t.Error("Changed did not fire for a new set")
	}
	out := r.complete(r.stateYAML(""))
	if got := names(out.Workers); !slices.Equal(got, []string{"w1@10.0.1.1", "w2@10.0.1.2"}) {
		t.Errorf("workers %v", got)
	}
	if got := names(out.ControlPlanes); !slices.Equal(got, []string{"cp1@10.0.0.11"}) {
		t.Errorf("control planes %v", got)
	}
	for _, e := range r.messages("discovered worker added") {
		if f := e.ContextMap(); f["server"] == "" || f["address"] == "" {
			t.Errorf("added without name or address: %v", f)
		}
	}
	if n := len(r.messages("discovered worker added")); n != 2 {
		t.Errorf("%d additions logged, want 2", n)
	}
	if st.Source != "api" || st.LastSuccess.IsZero() || st.NetworkID != network || len(st.Servers.Workers) != 2 {
		t.Errorf("status %+v", st)
	}
	saved, err := Load(filepath.Join(r.dir, "discovered.json"))
	if err != nil || !slices.Equal(setNames(saved.Workers), []string{"w1@10.0.1.1", "w2@10.0.1.2"}) || saved.NetworkID != network ||
		saved.Selectors[state.ListWorkers] != "cluster=prod,role=worker" {
		t.Errorf("kept file: %+v, %v", saved, err)
	}
	onDisk, err := ReadStatus(filepath.Join(r.dir, "run", StatusName))
	if err != nil || onDisk.Polls != 1 || len(onDisk.Servers.Workers) != 2 {
		t.Errorf("status file: %+v, %v", onDisk, err)
	}
	r.poll()
	if changed(r.p) {
		t.Error("Changed fired for an unchanged set")
	}
	r.noToken()
}

// TestDeletedAndRelabelledLeave: a deleted worker, one whose label no
// longer matches and one powered off leave the set on the next poll (one
// at a time, so no safety hold), each removal logged.
func TestDeletedAndRelabelledLeave(t *testing.T) {
	r := newRig(t, nil)
	for i := range 6 {
		r.worker(int64(3001+i), fmt.Sprintf("w%d", i+1), fmt.Sprintf("10.0.1.%d", i+1))
	}
	r.complete(r.stateYAML(""))
	r.poll()
	r.fake.DeleteServer(3001)
	r.poll()
	r.fake.SetLabels(3002, map[string]string{"cluster": "prod", "role": "retired"})
	r.poll()
	r.fake.SetStatus(3003, "off")
	st := r.poll()
	if got := setNames(st.Servers.Workers); !slices.Equal(got, []string{"w4@10.0.1.4", "w5@10.0.1.5", "w6@10.0.1.6"}) {
		t.Errorf("workers %v", got)
	}
	var removed []string
	for _, e := range r.messages("discovered worker removed") {
		removed = append(removed, e.ContextMap()["server"].(string)+"@"+e.ContextMap()["address"].(string))
	}
	if !slices.Equal(removed, []string{"w1@10.0.1.1", "w2@10.0.1.2", "w3@10.0.1.3"}) {
		t.Errorf("removals logged: %v", removed)
	}
	if len(st.Skipped) != 1 || st.Skipped[0].Name != "w3" || !strings.Contains(st.Skipped[0].Reason, "off, not running") {
		t.Errorf("skipped %+v", st.Skipped)
	}
}

// TestHalfRemovalHeldTwoPollsAppliedOnTheThird: a poll that loses three of
// four workers is held back on two polls, each time with a warning, and
// applied on the third.
func TestHalfRemovalHeldTwoPollsAppliedOnTheThird(t *testing.T) {
	r := newRig(t, nil)
	for i := range 4 {
		r.worker(int64(3001+i), fmt.Sprintf("w%d", i+1), fmt.Sprintf("10.0.1.%d", i+1))
	}
	r.complete(r.stateYAML(""))
	r.poll()
	changed(r.p)
	for _, id := range []int64{3002, 3003, 3004} {
		r.fake.SetLabels(id, map[string]string{})
	}
	for poll := 1; poll <= 2; poll++ {
		st := r.poll()
		if len(st.Servers.Workers) != 4 || changed(r.p) {
			t.Fatalf("poll %d after the loss: %d workers, want the 4 held", poll, len(st.Servers.Workers))
		}
		if len(st.Held) != 1 || st.Held[0].Seen != poll || st.Held[0].Needed != HoldPolls || !slices.Equal(st.Held[0].Removes, []string{"w2", "w3", "w4"}) {
			t.Errorf("poll %d: held %+v", poll, st.Held)
		}
		if n := len(r.messages("holding back a discovery result that removes many servers")); n != poll {
			t.Errorf("poll %d: %d warnings, want one per held poll", poll, n)
		}
	}
	st := r.poll()
	if got := setNames(st.Servers.Workers); !slices.Equal(got, []string{"w1@10.0.1.1"}) || len(st.Held) != 0 || !changed(r.p) {
		t.Errorf("third poll: workers %v, held %+v", got, st.Held)
	}
	if out := r.complete(r.stateYAML("")); !slices.Equal(names(out.Workers), []string{"w1@10.0.1.1"}) {
		t.Errorf("applied workers %v", names(out.Workers))
	}
}

// TestAPIErrorKeepsTheSet: polls that fail keep the servers found before,
// log the error once, and break a run of held results.
func TestAPIErrorKeepsTheSet(t *testing.T) {
	r := newRig(t, nil)
	for i := range 4 {
		r.worker(int64(3001+i), fmt.Sprintf("w%d", i+1), fmt.Sprintf("10.0.1.%d", i+1))
	}
	r.complete(r.stateYAML(""))
	r.poll()
	for _, id := range []int64{3002, 3003, 3004} {
		r.fake.DeleteServer(id)
	}
	r.poll() // held once
	r.fake.Inject(hetznertest.ListServers, 2, hetznertest.ServerError(http.StatusServiceUnavailable))
	for range 2 {
		st := r.poll()
		if len(st.Servers.Workers) != 4 || st.LastPoll.Error == "" || len(st.Held) != 0 {
			t.Fatalf("after a failed poll: %d workers, last poll %+v, held %+v", len(st.Servers.Workers), st.LastPoll, st.Held)
		}
	}
	if n := len(r.messages("discovery poll failed; keeping the servers discovered before")); n != 1 {
		t.Errorf("the failure was logged %d times, want once", n)
	}
	if out := r.complete(r.stateYAML("")); len(out.Workers) != 4 {
		t.Errorf("state to apply during the outage: %v", names(out.Workers))
	}
	st := r.poll()
	if len(st.Held) != 1 || st.Held[0].Seen != 1 || st.Failures != 2 {
		t.Errorf("the first poll after the outage: held %+v, failures %d; want a count from 1 again", st.Held, st.Failures)
	}
	if len(r.messages("discovery polls again")) != 1 {
		t.Error("no line for the recovery")
	}
}

// TestRestartWithoutAPIUsesTheKeptSet: an agent that starts while the API
// is unreachable applies the servers kept by the one before, and keeps
// them while polls fail.
func TestRestartWithoutAPIUsesTheKeptSet(t *testing.T) {
	r := newRig(t, nil)
	r.worker(3001, "w1", "10.0.1.1")
	r.worker(3002, "w2", "10.0.1.2")
	r.complete(r.stateYAML(""))
	r.poll()

	r.fake.Inject(hetznertest.ListServers, 5, hetznertest.Dropped())
	r.start()
	if st := r.p.Status(); st.Source != "persisted" || len(st.Servers.Workers) != 2 {
		t.Errorf("status at start: %+v", st)
	}
	out := r.complete(r.stateYAML(""))
	if got := names(out.Workers); !slices.Equal(got, []string{"w1@10.0.1.1", "w2@10.0.1.2"}) {
		t.Errorf("workers at start without the API: %v", got)
	}
	st := r.poll()
	if st.LastPoll.Error == "" || st.Source != "persisted" || len(st.Servers.Workers) != 2 || !st.LastSuccess.IsZero() {
		t.Errorf("after a failed poll: %+v", st)
	}
}

// TestNoKeptFile: without a kept file the poller starts empty; an
// unreadable one is ignored with a warning.
func TestNoKeptFile(t *testing.T) {
	r := newRig(t, nil)
	if _, err := Load(filepath.Join(r.dir, "discovered.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "discovered.json"), []byte(`{"version":1,"workers":[{"name":"bad name","address":"10.0.1.1"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start()
	if r.p.Set().Len() != 0 || len(r.messages("ignoring the kept discovered servers")) != 1 {
		t.Errorf("set %+v from a file with a bad name", r.p.Set())
	}
}

// TestLeftOutServersReportedOnce: a server with a name HAProxy cannot
// take, one outside the network and one named like a static server are
// left out, each reported once over several polls and reconciles.
func TestLeftOutServersReportedOnce(t *testing.T) {
	r := newRig(t, nil)
	r.worker(3001, "w1", "10.0.1.1")
	r.worker(3002, "Worker_2", "10.0.1.2")
	r.fake.PutServer(hetznertest.ServerSpec{ID: 3003, Name: "w3", Labels: map[string]string{"cluster": "prod", "role": "worker"}})
	r.worker(3004, "cp1", "10.0.1.4")
	yaml := r.stateYAML("workers:\n  - {name: w1, address: 10.0.0.21}\n")
	r.complete(yaml)
	for range 3 {
		r.poll()
		r.complete(yaml)
	}
	out := r.complete(yaml)
	if got := names(out.Workers); !slices.Equal(got, []string{"w1@10.0.0.21", "cp1@10.0.1.4"}) {
		t.Errorf("workers %v; want the static w1 and the discovered cp1 (a worker may share a control plane's name)", got)
	}
	left := r.messages("discovered worker left out")
	reasons := map[string]string{}
	for _, e := range left {
		reasons[e.ContextMap()["server"].(string)] += e.ContextMap()["reason"].(string)
	}
	if len(left) != 3 || !strings.Contains(reasons["Worker_2"], "not a lowercase DNS label") ||
		!strings.Contains(reasons["w3"], "no address in network k8s") || !strings.Contains(reasons["w1"], "the static entry wins") {
		t.Errorf("left out, %d lines: %v", len(left), reasons)
	}
}

// TestCostAndRateLimit: the status counts each poll's requests (the
// network's lookup once, then one page per selector) and what polling
// costs an hour, with the budget the API reported; the cost is logged
// once, as long as it stays the same.
func TestCostAndRateLimit(t *testing.T) {
	r := newRig(t, nil)
	r.worker(3001, "w1", "10.0.1.1")
	more := "    controlPlanes: \"cluster=prod,role=control-plane\"\n    interval: 20s\n"
	r.fake.PutServer(hetznertest.ServerSpec{ID: 3100, Name: "cp2", Labels: map[string]string{"cluster": "prod", "role": "control-plane"},
		Private: map[int64]string{network: "10.0.0.12"}})
	r.complete(r.stateYAML(more))
	first := r.poll()
	if first.LastPoll.Requests != 3 {
		t.Errorf("first poll: %d requests, want 3 (network, control planes, workers)", first.LastPoll.Requests)
	}
	st := r.poll()
	if st.LastPoll.Requests != 2 || st.Requests != 5 || st.RequestsPerHour != 2*3600/20 {
		t.Errorf("second poll: %d requests (%d in all), %d an hour; want 2, 5, 360", st.LastPoll.Requests, st.Requests, st.RequestsPerHour)
	}
	if got := r.fake.Count(hetznertest.ListNetworks); got != 1 {
		t.Errorf("%d network lookups, want 1", got)
	}
	if st.RateLimit == nil || st.RateLimit.Limit != hetznertest.DefaultRateLimit || st.RateLimit.Remaining != hetznertest.DefaultRateLimit-5 {
		t.Errorf("rate limit %+v", st.RateLimit)
	}
	if st.RequestsPerPoll != 2 {
		t.Errorf("%d requests a poll, want 2 (the network's lookup is made once)", st.RequestsPerPoll)
	}
	costs := r.messages("discovery polls the Hetzner API: " + costLine(2, 20*time.Second, 360))
	if len(costs) != 1 || costs[0].ContextMap()["ratelimit_remaining"] != int64(hetznertest.DefaultRateLimit-3) {
		t.Errorf("cost lines %v", r.logs.FilterMessageSnippet("discovery polls the Hetzner API").All())
	}
}

// TestRunPollsAtOnceWhenTheSectionChanges: Run polls when it first gets a
// state and again as soon as the selector changes, long before the
// interval (an hour here) is over.
func TestRunPollsAtOnceWhenTheSectionChanges(t *testing.T) {
	r := newRig(t, nil)
	r.worker(3001, "w1", "10.0.1.1")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	r.complete(r.stateYAML("    interval: 1h\n"))
	waitPolls(t, r.p, 1)
	r.complete(strings.Replace(r.stateYAML("    interval: 1h\n"), "role=worker", "role in (worker,ingress)", 1))
	st := waitPolls(t, r.p, 2)
	if st.Selectors[state.ListWorkers] != "cluster=prod,role in (worker,ingress)" {
		t.Errorf("second poll's selectors %v", st.Selectors)
	}
	r.complete(strings.Replace(r.stateYAML("    interval: 1h\n"), "role=worker", "role in (worker,ingress)", 1))
	select {
	case <-r.p.wake:
		t.Error("an unchanged state woke the poller")
	default:
	}
}

// waitPolls waits (at most 10 s, in steps of 20 ms) until the poller has
// made n polls.
func waitPolls(t *testing.T, p *Poller, n int) Status {
	t.Helper()
	for range 500 {
		if st := p.Status(); st.Polls >= n {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the poller did not make %d polls within 10 s: %+v", n, p.Status())
	return Status{}
}

// serverSpec is a labelled worker attached to the network at 10.0.9.x.
func serverSpec(id int64, name string) hetznertest.ServerSpec {
	return hetznertest.ServerSpec{ID: id, Name: name, Labels: map[string]string{"cluster": "prod", "role": "worker"},
		Private: map[int64]string{network: fmt.Sprintf("10.0.9.%d", id%250+1)}}
}

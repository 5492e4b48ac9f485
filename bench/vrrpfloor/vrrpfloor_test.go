package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

const quickstart = "../../testdata/quickstart.yaml"

// TestOneSecondPair runs the benchmark as the script does, for a few
// seconds at the default advert interval (1s), on the README's quick-start
// state: the preferred node wins the election, nothing moves while idle,
// a stopped or cut-off MASTER that comes back stays BACKUP, and the BACKUP
// gets the Floating IP when the MASTER's links go down, not before the
// master-down timer can have run out.
func TestOneSecondPair(t *testing.T) {
	tooltest.NeedRoot(t)
	for _, tool := range []string{"keepalived", "ip", "unshare", "bash"} {
		tooltest.Need(t, tool)
	}
	agent := buildAgent(t)
	out := filepath.Join(t.TempDir(), "result.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := run(ctx, []string{"-agent", agent, "-state", quickstart, "-intervals", "1s", "-idle", "5s",
		"-returns", "1", "-failovers", "1", "-json", out}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	var got runInfo
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 1 {
		t.Fatalf("%d results, want 1", len(got.Results))
	}
	r := got.Results[0]
	if len(r.Errors) > 0 || !r.Elected {
		t.Fatalf("elected %v, errors %q\n%s", r.Elected, r.Errors, stderr.String())
	}
	for _, node := range []string{"lb1", "lb2"} {
		if n := r.Idle.Master[node] + r.Idle.Backup[node] + r.Idle.Fault[node] + r.Idle.Reassert[node] + r.Idle.VIPAdded[node]; n != 0 {
			t.Errorf("%s: %d events while idle, want 0: %+v", node, n, r.Idle)
		}
	}
	if len(r.Returns) != 1 || r.Returns[0] != (returnResult{Stopped: "lb1", TakenOverBy: "lb2", TakeoverMS: r.Returns[0].TakeoverMS}) || r.Returns[0].TakeoverMS <= 0 {
		t.Errorf("returns = %+v, want lb2 to take over from lb1 and lb1 to stay BACKUP", r.Returns)
	}
	if len(r.Failovers) != 1 {
		t.Fatalf("%d failovers, want 1", len(r.Failovers))
	}
	f := r.Failovers[0]
	// lb2 became MASTER in the nopreempt round and is the one cut off.
	if f.Master != "lb2" || f.Backup != "lb1" || f.TookBack || f.ExtraMaster != 0 || f.NotifyMS < f.VIPMS {
		t.Errorf("failover = %+v, want lb1 to take over from lb2 for good, the address before notify", f)
	}
	// The last advert came at most one interval before the links went
	// down, so the master-down timer (3 intervals and the skew) cannot run
	// out in less than two.
	if f.VIPMS < 2000 {
		t.Errorf("the Floating IP moved %.0f ms after the links went down, before the master-down timer could end", f.VIPMS)
	}
	if !strings.Contains(stdout.String(), "\n1s      yes     0/0 ") {
		t.Errorf("report lacks the 1s line:\n%s", stdout.String())
	}
}

// TestRewriteNotify replaces exactly the two notify commands of the
// keepalived.conf that hakgen renders, and refuses a file without them.
func TestRewriteNotify(t *testing.T) {
	s, _, err := state.Load(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	const agent = "/opt/hakgen/hakgen-agent"
	conf, err := render.Keepalived(s, render.KeepalivedOptions{Node: "lb2", Agent: agent})
	if err != nil {
		t.Fatal(err)
	}
	got, err := rewriteNotify(conf, agent, "/w/record", "/w/lb2.log")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\n    notify \"/w/record /w/lb2.log\"\n",
		"\n    notify_master_rx_lower_pri \"/w/record /w/lb2.log REASSERT\"\n",
		"\n    script \"" + agent + " check --url http://10.0.0.6:8404/healthz --peer http://10.0.0.5:8404\"\n",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("rewritten keepalived.conf lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), agent+" notify") {
		t.Errorf("rewritten keepalived.conf still runs notify:\n%s", got)
	}
	if _, err := rewriteNotify(conf, "/usr/bin/other", "/w/record", "/w/lb2.log"); err == nil {
		t.Error("rewriteNotify accepted a keepalived.conf without the agent's notify")
	}
}

// TestWriteState sets the advert interval and the interfaces and keeps the
// rest: the state written loads, and renders VRRPv3 at 300ms.
func TestWriteState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.yaml")
	ps, err := writeState(quickstart, path, 300*time.Millisecond, "vrabc123", "puabc123")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ps.names, ",") != "lb1,lb2" || strings.Join(ps.addrs, ",") != "10.0.0.5,10.0.0.6" || ps.vip != "203.0.113.10" {
		t.Errorf("writeState = %+v", ps)
	}
	s, _, err := state.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(s.Keepalived.AdvertInterval) != 300*time.Millisecond || s.Keepalived.Interface != "vrabc123" || s.FloatingIP.Interface != "puabc123" || len(s.Workers) != 3 {
		t.Errorf("loaded %+v %+v, %d workers", s.Keepalived, s.FloatingIP, len(s.Workers))
	}
	conf, err := render.Keepalived(s, render.KeepalivedOptions{Node: "lb1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "    version 3\n    advert_int 0.3\n") {
		t.Errorf("keepalived.conf at 300ms:\n%s", conf)
	}
}

// TestRewriteAdvert: below the state's floor, the benchmark renders at the
// floor and writes the interval it measures into advert_int.
func TestRewriteAdvert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.yaml")
	if _, err := writeState(quickstart, path, 20*time.Millisecond, "vrabc123", "puabc123"); err != nil {
		t.Fatal(err)
	}
	s, _, err := state.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(s.Keepalived.AdvertInterval) != state.MinAdvertInterval {
		t.Errorf("advertInterval %s, want the floor %s", s.Keepalived.AdvertInterval, state.Duration(state.MinAdvertInterval))
	}
	conf, err := render.Keepalived(s, render.KeepalivedOptions{Node: "lb1"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := rewriteAdvert(conf, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "    version 3\n    advert_int 0.02\n") || strings.Contains(string(out), "advert_int 0.1\n") {
		t.Errorf("keepalived.conf at 20ms:\n%s", out)
	}
	if _, err := rewriteAdvert([]byte("vrrp_instance x {\n}\n"), 20*time.Millisecond); err == nil {
		t.Error("a file without advert_int was rewritten")
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-agent", "a", "-intervals", "10"},
		{"-agent", "a", "-idle", "0s"},
		{"-agent", "a", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitUsage || !strings.HasPrefix(stderr.String(), "vrrpfloor: ") {
			t.Errorf("run(%q) = %d, %q; want exit %d with a message", args, code, stderr.String(), exitUsage)
		}
	}
}

func TestParseNotify(t *testing.T) {
	evs, err := parseNotify([]byte("1700000000.250000 INSTANCE hakgen-prod MASTER 200\n1700000001.5 REASSERT\n"), "lb1")
	if err != nil {
		t.Fatal(err)
	}
	want := []event{{At: time.Unix(1700000000, 250000000), Node: "lb1", What: master}, {At: time.Unix(1700000001, 500000000), Node: "lb1", What: reassert}}
	if len(evs) != 2 || !evs[0].At.Equal(want[0].At) || evs[0].What != want[0].What || !evs[1].At.Equal(want[1].At) || evs[1].What != want[1].What {
		t.Errorf("parseNotify = %+v, want %+v", evs, want)
	}
	if _, err := parseNotify([]byte("1700000000.25 MASTER\n"), "lb1"); err == nil {
		t.Error("parseNotify accepted a line keepalived does not write")
	}
}

// buildAgent builds hakgen-agent into the test's directory.
func buildAgent(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "hakgen-agent")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, "../../cmd/hakgen-agent").CombinedOutput(); err != nil {
		t.Fatalf("building hakgen-agent: %v\n%s", err, out)
	}
	return bin
}

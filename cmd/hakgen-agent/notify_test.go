package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/state"
)

// notifyToken is the token the fake demands; no output may show it.
const notifyToken = "n0tify-t0ken-s3cret"

const (
	fipID  = hetznertest.FloatingIPID
	thisID = hetznertest.ThisServer
	peerID = hetznertest.OtherServer
)

// The requests of a MASTER run with both IDs known: the assign first.
var assignPollVerify = []hetznertest.Endpoint{hetznertest.Assign, hetznertest.ListActions, hetznertest.GetFloatingIP}

// notifyWorld is a fake Hetzner API, a state file naming it, a state
// directory and what in-process runs sent to the journal, for notify runs.
type notifyWorld struct {
	fake      *hetznertest.Fake
	statePath string
	tokenPath string
	stateDir  string

	mu      sync.Mutex
	journal []string // one line per entry: IDENTIFIER[PRIORITY]: MESSAGE
}

const notifyStateTemplate = `controlPlanes: [{name: cp1, address: 10.0.0.11}]
loadBalancers:
  - {name: lb1, address: LB1ADDR SERVERID}
  - {name: lb2, address: 10.0.0.6}
floatingIP: {id: 4711, address: 203.0.113.10, tokenFile: hcloud-token}
keepalived: {interface: enp7s0}
`

// newNotifyWorld sets up a world where lb1 has lb1Addr and, when withID,
// serverID 1001 in the state. The endpoints and token reach notify through
// the environment, as they do under keepalived.
func newNotifyWorld(t *testing.T, lb1Addr string, withID bool) *notifyWorld {
	t.Helper()
	dir := t.TempDir()
	w := &notifyWorld{
		fake:      hetznertest.New(t),
		statePath: filepath.Join(dir, "state.yaml"),
		tokenPath: filepath.Join(dir, "hcloud-token"),
		stateDir:  filepath.Join(dir, "run"),
	}
	w.fake.RequireToken(notifyToken)
	id := ""
	if withID {
		id = ", serverID: 1001"
	}
	st := strings.NewReplacer("LB1ADDR", lb1Addr, " SERVERID", id).Replace(notifyStateTemplate)
	writeNotifyFile(t, w.statePath, st, 0o644)
	writeNotifyFile(t, w.tokenPath, notifyToken+"\n", 0o600)
	t.Setenv("HCLOUD_ENDPOINT", w.fake.APIEndpoint())
	t.Setenv("HCLOUD_METADATA_ENDPOINT", w.fake.MetadataEndpoint())
	t.Setenv("HCLOUD_TOKEN", "")
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	return w
}

func writeNotifyFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// args returns notify's flags for this world followed by rest.
func (w *notifyWorld) args(rest ...string) []string {
	return append([]string{"notify", "--state", w.statePath, "--state-dir", w.stateDir}, rest...)
}

// notify runs notify in-process and returns exit code and stderr; what it
// sends to the journal is recorded for logged.
func (w *notifyWorld) notify(t *testing.T, rest ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runWith(context.Background(), w.args(rest...), &env{stdout: &stdout, stderr: &stderr, journal: w.send})
	w.noToken(t, stderr.String())
	return code, stderr.String()
}

func (w *notifyWorld) send(msg string, pri journal.Priority, fields map[string]string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.journal = append(w.journal, fmt.Sprintf("%s[%d]: %s", fields["SYSLOG_IDENTIFIER"], pri, msg))
	return nil
}

// logged returns what the runs so far sent to the journal.
func (w *notifyWorld) logged(t *testing.T) string {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := strings.Join(w.journal, "\n")
	w.noToken(t, out)
	return out
}

func (w *notifyWorld) noToken(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, notifyToken) {
		t.Errorf("output shows the API token:\n%s", out)
	}
}

func (w *notifyWorld) latest(t *testing.T) failover.Record {
	t.Helper()
	rec, err := failover.NewStore(w.stateDir).Latest()
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (w *notifyWorld) wantRequests(t *testing.T, want ...hetznertest.Endpoint) {
	t.Helper()
	if got := w.fake.Endpoints(); !slices.Equal(got, want) {
		t.Errorf("requests = %v, want %v", got, want)
		for _, r := range w.fake.Requests() {
			t.Logf("  %s -> %d", r, r.Status)
		}
	}
}

// TestNotifyMasterAssignsWithTheAssignFirst: with both IDs in the state,
// the assign is the first request, in both argument forms, and the journal
// line tells how long the failover took.
func TestNotifyMasterAssignsWithTheAssignFirst(t *testing.T) {
	for _, args := range [][]string{{"--node", "lb1", "MASTER"}, {"--node", "lb1", "INSTANCE", "hakgen-prod", "MASTER", "200"}} {
		t.Run(strings.Join(args[2:], " "), func(t *testing.T) {
			w := newNotifyWorld(t, "10.0.0.5", true)
			code, stderr := w.notify(t, args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			w.wantRequests(t, assignPollVerify...)
			if got := w.fake.Owner(fipID); got != thisID {
				t.Errorf("Floating IP points to %d, want %d", got, thisID)
			}
			if rec := w.latest(t); rec.State != failover.Master || rec.Seq != 1 || rec.Event != strings.Join(args[2:], " ") {
				t.Errorf("recorded %+v", rec)
			}
			logged := w.logged(t)
			for _, want := range []string{"hakgen-notify[6]: ", "notify floating IP assigned to this server", `"took": "`, `"token_from": "` + w.tokenPath} {
				if !strings.Contains(logged, want) {
					t.Errorf("the journal lacks %q:\n%s", want, logged)
				}
			}
			if !strings.Contains(stderr, "floating IP assigned to this server") {
				t.Errorf("stderr lacks the result:\n%s", stderr)
			}
		})
	}
}

// TestNotifyMasterAsksTheMetadataServiceOnce: without a serverID in the
// state, the first run asks the metadata service once before the assign;
// the next run finds the ID in the cache under --state-dir.
func TestNotifyMasterAsksTheMetadataServiceOnce(t *testing.T) {
	w := newNotifyWorld(t, "10.0.0.5", false)
	if code, stderr := w.notify(t, "--node", "lb1", "MASTER"); code != 0 {
		t.Fatalf("first run: exit %d, stderr:\n%s", code, stderr)
	}
	w.wantRequests(t, append([]hetznertest.Endpoint{hetznertest.Metadata}, assignPollVerify...)...)

	w.fake.ResetLog()
	w.fake.Grab(fipID, peerID)
	if code, stderr := w.notify(t, "--node", "lb1", "INSTANCE", "hakgen-prod", "MASTER", "200"); code != 0 {
		t.Fatalf("second run: exit %d, stderr:\n%s", code, stderr)
	}
	w.wantRequests(t, assignPollVerify...)
	if w.fake.Owner(fipID) != thisID {
		t.Errorf("Floating IP points to %d, want %d", w.fake.Owner(fipID), thisID)
	}
}

// TestNotifyFindsItsNodeByAddress: without --node, the load balancer whose
// address this machine has (one of its own, not loopback, which the state
// refuses) is this node.
func TestNotifyFindsItsNodeByAddress(t *testing.T) {
	w := newNotifyWorld(t, ownAddress(t), true)
	if code, stderr := w.notify(t, "MASTER"); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if w.fake.Owner(fipID) != thisID {
		t.Errorf("Floating IP points to %d, want lb1's server %d", w.fake.Owner(fipID), thisID)
	}
}

// TestNotifyOtherStatesChangeNothingAtHetzner: BACKUP, FAULT, STOP and
// DELETED are recorded in order without a single request, and without
// reading the state or the token (here neither exists).
func TestNotifyOtherStatesChangeNothingAtHetzner(t *testing.T) {
	w := newNotifyWorld(t, "10.0.0.5", true)
	os.Remove(w.statePath)
	os.Remove(w.tokenPath)
	for i, ev := range []string{"BACKUP", "FAULT", "STOP", "INSTANCE hakgen-prod BACKUP 200", "INSTANCE hakgen-prod FAULT 0", "INSTANCE hakgen-prod DELETED 200"} {
		code, stderr := w.notify(t, strings.Fields(ev)...)
		if code != 0 {
			t.Fatalf("%s: exit %d, stderr:\n%s", ev, code, stderr)
		}
		if rec := w.latest(t); rec.Seq != uint64(i+1) || rec.Event != ev {
			t.Errorf("after %s: recorded %+v, want seq %d", ev, rec, i+1)
		}
	}
	w.wantRequests(t)
	if w.fake.Owner(fipID) != peerID {
		t.Errorf("Floating IP moved to %d", w.fake.Owner(fipID))
	}
}

// TestNotifyRefusesAnExposedToken: a token file others can read is
// refused with the fix in the message, before any request; MASTER is
// still recorded, and the journal has the failure.
func TestNotifyRefusesAnExposedToken(t *testing.T) {
	w := newNotifyWorld(t, "10.0.0.5", true)
	if err := os.Chmod(w.tokenPath, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stderr := w.notify(t, "--node", "lb1", "MASTER")
	for _, want := range []string{"token file " + w.tokenPath + " has mode 0644", "chmod 600 " + w.tokenPath} {
		if code != failover.ExitFailed || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, want)
		}
	}
	w.wantRequests(t)
	if rec := w.latest(t); rec.State != failover.Master {
		t.Errorf("recorded %+v, want MASTER", rec)
	}
	if logged := w.logged(t); !strings.Contains(logged, "hakgen-notify[3]: notify failed") || !strings.Contains(logged, "has mode 0644") || !strings.Contains(logged, `"exit_code": 1`) {
		t.Errorf("the journal lacks the failure:\n%s", logged)
	}
}

func TestNotifyRefusesATokenOfAnotherUser(t *testing.T) {
	tooltest.NeedRoot(t) // only root can give a file to another user
	w := newNotifyWorld(t, "10.0.0.5", true)
	if err := os.Chown(w.tokenPath, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	code, stderr := w.notify(t, "--node", "lb1", "MASTER")
	if want := "is owned by uid 65534, not by root"; code != failover.ExitFailed || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, want)
	}
	w.wantRequests(t)
}

// TestNotifyExitCodes: the exit code tells each outcome apart.
func TestNotifyExitCodes(t *testing.T) {
	for _, c := range []struct {
		name   string
		setup  func(w *notifyWorld)
		args   []string
		code   int
		stderr string
	}{
		{name: "two arguments", args: []string{"MASTER", "now"}, code: failover.ExitUsage, stderr: "2 arguments: usage: notify"},
		{name: "unknown state", args: []string{"PROMOTE"}, code: failover.ExitUsage, stderr: `unknown state "PROMOTE"`},
		{name: "token refused", setup: func(w *notifyWorld) { w.fake.RequireToken("another") }, args: []string{"--node", "lb1", "MASTER"},
			code: failover.ExitAuth, stderr: "unable to authenticate"},
		{name: "action failed", setup: func(w *notifyWorld) {
			w.fake.PlanActions(hetznertest.ActionPlan{ErrorCode: "action_failed", ErrorMessage: "assign failed"})
		}, args: []string{"--node", "lb1", "MASTER"}, code: failover.ExitActionError, stderr: "assign failed"},
		{name: "another server grabs it", setup: func(w *notifyWorld) {
			w.fake.Inject(hetznertest.GetFloatingIP, 1, hetznertest.GrabBefore(fipID, hetznertest.ThirdServer))
		}, args: []string{"--node", "lb1", "MASTER"}, code: failover.ExitNotAssigned, stderr: "it points to server 1003"},
		{name: "deadline", setup: func(w *notifyWorld) { w.fake.Inject(hetznertest.Assign, 1, hetznertest.Slow(10*time.Second)) },
			args: []string{"--node", "lb1", "--deadline", "1s", "MASTER"}, code: failover.ExitDeadline, stderr: "deadline exceeded"},
		{name: "unknown node", args: []string{"--node", "lb9", "MASTER"}, code: failover.ExitFailed,
			stderr: `finding this server's ID: no load balancer is named "lb9" (expected one of lb1, lb2)`},
		{name: "no local address matches", args: []string{"MASTER"}, code: failover.ExitFailed, stderr: "pass the node's name (--node NAME)"},
		{name: "incomplete state", setup: func(w *notifyWorld) {
			writeNotifyFile(t, w.statePath, "controlPlanes: [{name: cp1, address: 10.0.0.11}]\n", 0o644)
		}, args: []string{"MASTER"}, code: failover.ExitFailed, stderr: "loadBalancers: missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newNotifyWorld(t, "10.0.0.5", true)
			if c.setup != nil {
				c.setup(w)
			}
			code, stderr := w.notify(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, c.code, c.stderr)
			}
			if c.code != failover.ExitNotAssigned && w.fake.Owner(fipID) != peerID {
				t.Errorf("Floating IP moved to %d", w.fake.Owner(fipID))
			}
			// A run records its state before anything can fail but its
			// arguments.
			wantState := failover.Master
			if c.code == failover.ExitUsage {
				wantState = ""
			}
			if rec := w.latest(t); rec.State != wantState {
				t.Errorf("recorded %+v, want state %q", rec, wantState)
			}
		})
	}
}

// TestNotifyMasterDespiteAnUnrelatedMistake: a bad worker address in the
// state must not keep the Floating IP from moving.
func TestNotifyMasterDespiteAnUnrelatedMistake(t *testing.T) {
	w := newNotifyWorld(t, "10.0.0.5", true)
	data := string(mustRead(t, w.statePath))
	broken := strings.Replace(data, "controlPlanes:", "workers: [{name: w1, address: 10.0.0.300}]\ncontrolPlanes:", 1)
	if broken == data {
		t.Fatal("the fixture state has no controlPlanes line to break next to")
	}
	writeNotifyFile(t, w.statePath, broken, 0o644)
	if code, stderr := w.notify(t, "--node", "lb1", "MASTER"); code != exitOK {
		t.Fatalf("notify MASTER: exit %d\n%s", code, stderr)
	}
	if got := w.fake.Owner(fipID); got != thisID {
		t.Errorf("Floating IP points to %d, want %d", got, thisID)
	}
}

// TestNotifyReassert: keepalived runs notify_master_rx_lower_pri for every
// advert of a lower-priority MASTER. --reassert asks the API at most every
// 30 s, and assigns only when the Floating IP points elsewhere.
func TestNotifyReassert(t *testing.T) {
	w := newNotifyWorld(t, "10.0.0.5", true)
	if code, stderr := w.notify(t, "--node", "lb1", "MASTER"); code != exitOK {
		t.Fatalf("notify MASTER: exit %d\n%s", code, stderr)
	}
	w.fake.Grab(fipID, peerID) // the split brain's other MASTER took it
	w.fake.ResetLog()
	if code, stderr := w.notify(t, "--reassert", "--node", "lb1", "MASTER"); code != exitOK {
		t.Fatalf("notify --reassert: exit %d\n%s", code, stderr)
	}
	if got := w.fake.Owner(fipID); got != thisID {
		t.Errorf("after --reassert the Floating IP points to %d, want %d", got, thisID)
	}
	if eps := w.fake.Endpoints(); len(eps) == 0 || eps[0] != hetznertest.GetFloatingIP {
		t.Errorf("requests %v: want the owner read first", eps)
	}
	w.fake.ResetLog()
	w.fake.Grab(fipID, peerID)
	for range 5 { // the next adverts, one a second
		if code, stderr := w.notify(t, "--reassert", "--node", "lb1", "MASTER"); code != exitOK {
			t.Fatalf("repeated --reassert: exit %d\n%s", code, stderr)
		}
	}
	if n := len(w.fake.Requests()); n != 0 {
		t.Errorf("%d requests within 30 s of the last reassert, want none", n)
	}
	stamp := filepath.Join(w.stateDir, "reassert.stamp")
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(stamp, old, old); err != nil {
		t.Fatal(err)
	}
	w.fake.Grab(fipID, thisID)
	if code, stderr := w.notify(t, "--reassert", "--node", "lb1", "MASTER"); code != exitOK {
		t.Fatalf("--reassert after 30 s: exit %d\n%s", code, stderr)
	}
	if eps := w.fake.Endpoints(); len(eps) != 1 || eps[0] != hetznertest.GetFloatingIP {
		t.Errorf("requests %v: want one GET and no assign while the IP points here", eps)
	}
}

// TestNotifyRequireVIP: a MASTER run that finds the Floating IP gone from
// this node (keepalived has left MASTER by the time it runs) gives up
// without asking the API.
func TestNotifyRequireVIP(t *testing.T) {
	w := newNotifyWorld(t, "10.0.0.5", true)
	code, stderr := w.notify(t, "--require-vip", "--node", "lb1", "MASTER")
	if code != failover.ExitSuperseded || !strings.Contains(stderr, "is no longer on this node") {
		t.Errorf("exit %d, want %d naming the missing address:\n%s", code, failover.ExitSuperseded, stderr)
	}
	if n := len(w.fake.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// TestNotifyFlagsAfterTheState: `notify MASTER --node lb1` parses its
// flags after the positional argument, as kubectl users type it.
func TestNotifyFlagsAfterTheState(t *testing.T) {
	w := newNotifyWorld(t, "10.0.0.5", true)
	code, stderr := w.notify(t, "MASTER", "--node", "lb1", "--deadline", "20s")
	if code != exitOK || w.fake.Owner(fipID) != thisID {
		t.Fatalf("exit %d, owner %d; stderr:\n%s", code, w.fake.Owner(fipID), stderr)
	}
}

// ownAddress is an address of this machine a load balancer could have: a
// global unicast one (not loopback or link-local).
func ownAddress(t *testing.T) string {
	t.Helper()
	addrs, err := state.LocalAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a.IsGlobalUnicast() && !a.IsLinkLocalUnicast() && a.String() != "10.0.0.6" {
			return a.String()
		}
	}
	if tooltest.Required() {
		t.Fatal("this machine has no address a load balancer could have, and HAKGEN_REQUIRE_TOOLS=1")
	}
	t.Skip("this machine has no address a load balancer could have")
	return ""
}

// TestNotifyTakesTheTokenFromHCloud: hcloud.tokenFile is the token every
// Hetzner call uses; floatingIP then needs none of its own.
func TestNotifyTakesTheTokenFromHCloud(t *testing.T) {
	w := newNotifyWorld(t, "10.0.0.5", true)
	st := strings.Replace(strings.NewReplacer("LB1ADDR", "10.0.0.5", " SERVERID", ", serverID: 1001").Replace(notifyStateTemplate),
		"203.0.113.10, tokenFile: hcloud-token}", "203.0.113.10}\nhcloud: {tokenFile: hcloud-token}", 1)
	if !strings.Contains(st, "hcloud: {tokenFile") {
		t.Fatalf("the template changed:\n%s", st)
	}
	writeNotifyFile(t, w.statePath, st, 0o644)
	code, stderr := w.notify(t, "--node", "lb1", "MASTER")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if got := w.fake.Owner(fipID); got != thisID {
		t.Errorf("Floating IP points to %d, want %d", got, thisID)
	}
	if logged := w.logged(t); !strings.Contains(logged, `"token_from": "`+w.tokenPath) {
		t.Errorf("the journal does not name hcloud.tokenFile as the token's source:\n%s", logged)
	}
}

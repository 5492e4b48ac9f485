package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// Way is what runs on the load balancers.
type Way string

const (
	// Hakgen runs hakgen-agent as the README's quick start sets it up.
	Hakgen Way = "hakgen"
	// Seed runs what operators copy today (see seed.go).
	Seed Way = "seed"
)

// DefaultRouteDelay is how long after a completed assign the lab's
// network routes the Floating IP to its new server. Hetzner publishes no
// figure for Cloud Floating IPs (its dedicated servers' failover IPs take
// 40-60 s to switch, a different product); 1 s is an estimate, not a
// measurement, and Options.RouteDelay changes it.
const DefaultRouteDelay = time.Second

// readyTimeout bounds the lab's start (an upper bound, not an expectation).
const readyTimeout = 60 * time.Second

// Options choose what a lab runs.
type Options struct {
	Way        Way           // Hakgen when empty
	RouteDelay time.Duration // DefaultRouteDelay when zero
	// AgentArgs are extra flags of `hakgen-agent run` (Hakgen only), e.g.
	// a short --heal-interval.
	AgentArgs []string
	// StateFrom, when set and State is nil, makes State from the quick
	// start's state.yaml (DualStackState, ActiveActiveState, ...).
	StateFrom func(quickStart []byte) ([]byte, error)
	// State is the state.yaml of both load balancers (Hakgen only); when
	// nil, LabState of the quick start.
	State []byte
	// AdvertInterval, when set, is keepalived.advertInterval of State
	// (Hakgen only), e.g. the fast profile's 300ms.
	AdvertInterval time.Duration
}

// Lab is the pair of load balancers and everything around it, in network
// namespaces of its own (see the package documentation). New builds it;
// it is torn down when the test ends.
type Lab struct {
	Plan  *Plan
	Opts  Options
	State []byte // the load balancers' state.yaml as the lab wrote it first

	Internet *Node // the client, the fake Hetzner API, the Floating IP's route
	Private  *Node // the private segment's bridge
	Backends *Node // control planes and workers
	LBs      []*LB
	// PrivateClient, with a private VIP in the state, is a node on the
	// private segment only: it reaches the API through the VIP.
	PrivateClient *Node

	API           *hetznertest.Fake
	CA            *CA
	ControlPlanes []*ControlPlane
	Workers       []*Worker

	tb    testing.TB
	kit   *Kit
	tools Tools
	token string
	id    string // in every name the lab gives on the host

	mu         sync.Mutex
	moves      []Move
	routeMoves []RouteMove
	closeOnce  sync.Once
	closers    []func()
}

// New builds a lab and returns once it serves: lb1 MASTER, the Floating
// IP assigned and routed to it, lb2 BACKUP, a TLS connection through the
// Floating IP answered, and (the hakgen way) `hakgen-agent doctor` on lb2
// content, as in the quick start's step 8. It fails tb otherwise.
func (k *Kit) New(tb testing.TB, opts Options) *Lab {
	tb.Helper()
	if opts.Way == "" {
		opts.Way = Hakgen
	}
	if opts.RouteDelay == 0 {
		opts.RouteDelay = DefaultRouteDelay
	}
	if opts.Way == Seed && k.Tools.Hcloud == "" {
		tb.Fatal("the seed's way needs a Kit made with seed tools")
	}
	quick, err := ReadQuickStart()
	if err != nil {
		tb.Fatal(err)
	}
	plan, err := NewPlan(quick)
	if err != nil {
		tb.Fatal(err)
	}
	if opts.State == nil && opts.StateFrom != nil {
		if opts.State, err = opts.StateFrom(quick); err != nil {
			tb.Fatal(err)
		}
	}
	if opts.State == nil {
		opts.State = LabState(quick)
	}
	if opts.AdvertInterval != 0 {
		if opts.State, err = WithAdvertInterval(opts.State, opts.AdvertInterval); err != nil {
			tb.Fatal(err)
		}
	}
	l := &Lab{Plan: plan, Opts: opts, State: opts.State, tb: tb, kit: k, tools: k.Tools, token: randomToken(), id: randomHex(4)}
	tb.Cleanup(l.Close)
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := l.build(ctx); err != nil {
		tb.Fatalf("building the lab: %v", err)
	}
	return l
}

func (l *Lab) build(ctx context.Context) error {
	if err := l.Plan.addState(l.State); err != nil {
		return err
	}
	if err := l.startNodes(); err != nil {
		return err
	}
	if err := l.buildNetwork(ctx); err != nil {
		return err
	}
	if err := l.buildDayTwoNetwork(ctx); err != nil {
		return err
	}
	ca, err := newCA()
	if err != nil {
		return err
	}
	l.CA = ca
	if err := l.startBackends(); err != nil {
		return err
	}
	l.onClose(l.stopBackends)
	if err := l.startAPI(); err != nil {
		return err
	}
	if l.Opts.Way == Seed {
		err = l.startSeed(ctx)
	} else {
		err = l.startHakgen(ctx)
	}
	if err != nil {
		return err
	}
	if err := l.awaitServing(ctx); err != nil {
		return err
	}
	if l.Opts.Way == Hakgen {
		return l.checkDoctor(ctx)
	}
	return nil
}

// startNodes starts every node; each gets a directory of its own and a
// holder named lab-ID-NAME.
func (l *Lab) startNodes() error {
	base := l.tb.TempDir()
	// On an interrupt the nodes die with the process; their directories
	// go after them.
	stop := onInterrupt(func() {
		l.teardown()
		_ = os.RemoveAll(filepath.Dir(base)) // the test's, made by TempDir
	})
	l.onClose(stop)
	node := func(name string, machine bool) (*Node, error) {
		n, err := startNode(&l.tools, nodeSpec{
			name: name, tag: fmt.Sprintf("lab-%s-%s", l.id, name), dir: filepath.Join(base, name),
			machine: machine, binDir: l.kit.binDir,
		})
		if err == nil {
			l.onClose(n.Close)
		}
		return n, err
	}
	var err error
	if l.Internet, err = node("internet", false); err != nil {
		return err
	}
	if l.Private, err = node("private", false); err != nil {
		return err
	}
	if l.Backends, err = node("backends", false); err != nil {
		return err
	}
	if l.Plan.PrivateVIP.IsValid() {
		if l.PrivateClient, err = node("k8snode", false); err != nil {
			return err
		}
	}
	for _, p := range l.Plan.LBs {
		n, err := node(p.Name, true)
		if err != nil {
			return err
		}
		// A VM knows its own name (Debian's cloud images put it there):
		// keepalived looks it up at start, and with no DNS in the lab an
		// unknown name would take two resolver timeouts.
		hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", p.Name)
		if err := n.WriteFile("/etc/hosts", []byte(hosts), 0o644); err != nil {
			return err
		}
		l.LBs = append(l.LBs, &LB{Node: n, Plan: p, lab: l})
	}
	return nil
}

// awaitServing waits until lb1 is MASTER with the Floating IP routed to
// it, lb2 is BACKUP, and a client gets through.
func (l *Lab) awaitServing(ctx context.Context) error {
	lb1, lb2 := l.LBs[0], l.LBs[1]
	if _, err := lb2.WaitVRRP(ctx, time.Time{}, "BACKUP"); err != nil {
		return fmt.Errorf("%s: %w", lb2.Name, err)
	}
	for {
		err := l.ProbeAPI(ctx)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no TLS connection through the Floating IP: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if got := l.API.Owner(l.Plan.FloatingIPID); got != lb1.Plan.ServerID {
		return fmt.Errorf("the Floating IP is assigned to server %d, want %s's %d", got, lb1.Name, lb1.Plan.ServerID)
	}
	for _, lb := range l.LBs {
		id, err := lb.MetadataInstanceID(ctx)
		if err != nil {
			return err
		}
		if id != strconv.FormatInt(lb.Plan.ServerID, 10) {
			return fmt.Errorf("%s: the metadata service says it is server %s, want %d", lb.Name, id, lb.Plan.ServerID)
		}
	}
	return nil
}

// LB returns the load balancer named name.
func (l *Lab) LB(name string) *LB {
	for _, lb := range l.LBs {
		if lb.Name == name {
			return lb
		}
	}
	return nil
}

// LBByServer returns the load balancer with the Hetzner server ID id.
func (l *Lab) LBByServer(id int64) *LB {
	for _, lb := range l.LBs {
		if lb.Plan.ServerID == id {
			return lb
		}
	}
	return nil
}

func (l *Lab) onClose(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, f)
}

// Close tears the lab down, in the reverse order of its making, and logs
// the nodes' journals when the test failed. New registers it with the
// test; it is safe to call more than once.
func (l *Lab) Close() {
	l.closeOnce.Do(func() {
		if l.tb.Failed() {
			l.logJournals()
		}
		if l.kit.LogDir != "" {
			if err := l.saveJournals(filepath.Join(l.kit.LogDir, safeName(l.tb.Name()))); err != nil {
				l.tb.Errorf("saving the lab's logs: %v", err)
			}
		}
		l.teardown()
	})
}

// teardown runs the closers, last first, once.
func (l *Lab) teardown() {
	l.mu.Lock()
	closers := l.closers
	l.closers = nil
	l.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomToken is a Hetzner-shaped API token: 64 letters and digits.
func randomToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

package lab

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/state"
)

// at is a time ms milliseconds after a fixed origin.
func at(ms int) time.Time {
	return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
}

// timeline makes one attempt every 50 ms from 0 to endMS; ok says which
// succeed.
func timeline(endMS int, ok func(ms int) bool) []Attempt {
	var out []Attempt
	for ms := 0; ms <= endMS; ms += 50 {
		a := Attempt{Start: at(ms), End: at(ms + 2), Server: "cp1"}
		if !ok(ms) {
			a.Err, a.Server = "refused", ""
		}
		out = append(out, a)
	}
	return out
}

func TestMeasureOutage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ok        func(ms int) bool
		recovered bool
		gap       time.Duration
		failed    int
	}{
		{"failover", func(ms int) bool { return ms < 1000 || ms >= 4000 }, true, 3050 * time.Millisecond, 60},
		{"a success right after the fault, then the outage", func(ms int) bool { return ms <= 1000 || ms >= 4000 }, true, 3000 * time.Millisecond, 59},
		{"flapping back", func(ms int) bool { return ms < 1000 || (ms >= 2000 && ms < 2500) || ms >= 3000 }, true, 1050 * time.Millisecond, 30},
		{"never", func(ms int) bool { return ms < 1000 }, false, 5050 * time.Millisecond, 101},
		{"down again at the end", func(ms int) bool { return ms < 1000 || (ms >= 2000 && ms < 2500) }, false, 3550 * time.Millisecond, 91},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := MeasureOutage(timeline(6000, tc.ok), at(990), at(6000))
			if err != nil {
				t.Fatal(err)
			}
			if o.Recovered != tc.recovered || o.Gap != tc.gap || o.Failed != tc.failed {
				t.Errorf("got recovered %v, gap %s, failed %d; want %v, %s, %d", o.Recovered, o.Gap, o.Failed, tc.recovered, tc.gap, tc.failed)
			}
			if tc.recovered && (o.StableSince.IsZero() || o.FirstOK.IsZero()) {
				t.Errorf("recovered without StableSince/FirstOK: %+v", o)
			}
		})
	}
	if _, err := MeasureOutage(timeline(1000, func(int) bool { return false }), at(500), at(1000)); err == nil {
		t.Error("no success before the fault: want an error")
	}
}

// TestParseJournal reads what go-systemd's journal.Send writes: a plain
// field and one with a newline, as a length-prefixed value.
func TestParseJournal(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("PRIORITY=3\nSYSLOG_IDENTIFIER=hakgen-notify\n")
	b.WriteString("MESSAGE\n")
	msg := "notify failed\nsecond line"
	_ = binary.Write(&b, binary.LittleEndian, uint64(len(msg)))
	b.WriteString(msg + "\n")
	if src, text := parseJournal(b.Bytes(), nil); src != "hakgen-notify" || text != "[error] "+msg {
		t.Errorf("parseJournal = %q, %q", src, text)
	}
}

func TestParseSyslog(t *testing.T) {
	for msg, want := range map[string][2]string{
		"<30>Dec  1 23:49:52 Keepalived_vrrp[67]: (hakgen-prod) Entering MASTER STATE": {"Keepalived_vrrp", "(hakgen-prod) Entering MASTER STATE"},
		"<134>Dec 12 03:04:05 haproxy[62]: Proxy kube-api started.\n":                  {"haproxy", "Proxy kube-api started."},
		"<27>Jan  2 03:04:05 hakgen-agent[9]: notify failed {\"exit_code\": 6}":        {"hakgen-agent", "notify failed {\"exit_code\": 6}"},
		"no header at all": {"syslog", "no header at all"},
	} {
		if src, text := parseSyslog([]byte(msg), nil); src != want[0] || text != want[1] {
			t.Errorf("parseSyslog(%q) = %q, %q; want %q, %q", msg, src, text, want[0], want[1])
		}
	}
}

// proxyV2 builds a PROXY protocol v2 header for TCP over IPv4 or IPv6.
func proxyV2(src, dst netip.AddrPort) []byte {
	fam := byte(0x11)
	if src.Addr().Is6() {
		fam = 0x21
	}
	addrs := append(src.Addr().AsSlice(), dst.Addr().AsSlice()...)
	addrs = binary.BigEndian.AppendUint16(addrs, src.Port())
	addrs = binary.BigEndian.AppendUint16(addrs, dst.Port())
	addrs = append(addrs, 0x04, 0x00, 0x01, 0xff) // a TLV to skip (NOOP)
	h := append([]byte{}, proxyV2Sig...)
	h = append(h, 0x21, fam)
	h = binary.BigEndian.AppendUint16(h, uint16(len(addrs)))
	return append(h, addrs...)
}

func TestParseProxyV2(t *testing.T) {
	for _, src := range []string{"192.0.2.10:40000", "[2001:db8::10]:40000"} {
		s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort("10.0.0.21:80")
		if s.Addr().Is6() {
			d = netip.MustParseAddrPort("[fd00::21]:80")
		}
		r := bytes.NewReader(append(proxyV2(s, d), "GET / HTTP/1.1\r\n"...))
		h, err := ParseProxyV2(r)
		if err != nil || h.Local || h.Source != s || h.Dest != d {
			t.Errorf("%s: got %+v, %v", src, h, err)
		}
		if rest, _ := io.ReadAll(r); string(rest) != "GET / HTTP/1.1\r\n" {
			t.Errorf("%s: left %q after the header", src, rest)
		}
	}
	local := append(append([]byte{}, proxyV2Sig...), 0x20, 0x00, 0x00, 0x00)
	if h, err := ParseProxyV2(bytes.NewReader(local)); err != nil || !h.Local {
		t.Errorf("LOCAL: got %+v, %v", h, err)
	}
	if _, err := ParseProxyV2(strings.NewReader("PROXY TCP4 192.0.2.10 10.0.0.21 40000 80\r\n")); err == nil {
		t.Error("a v1 header parsed as v2")
	}
}

// TestProxyConn reads connections with and without a PROXY header the
// way the workers do.
func TestProxyConn(t *testing.T) {
	client := netip.MustParseAddrPort("192.0.2.10:40000")
	for _, withHeader := range []bool{true, false} {
		a, b := net.Pipe()
		payload := []byte("hello")
		if withHeader {
			payload = append(proxyV2(client, netip.MustParseAddrPort("10.0.0.21:80")), payload...)
		}
		go func() { _, _ = a.Write(payload); a.Close() }()
		c := &proxyConn{Conn: b}
		got, _ := io.ReadAll(c)
		if string(got) != "hello" {
			t.Errorf("header %v: read %q", withHeader, got)
		}
		if c.Proxied() != withHeader {
			t.Errorf("header %v: Proxied() = %v", withHeader, c.Proxied())
		}
		if withHeader && c.RemoteAddr().String() != client.String() {
			t.Errorf("RemoteAddr = %s, want %s", c.RemoteAddr(), client)
		}
		b.Close()
	}
}

func TestParseStatsCSV(t *testing.T) {
	csv := "# pxname,svname,qcur,status,weight,scur,slim\n" +
		"kube-api,FRONTEND,,OPEN,,12,400\n" +
		"kube-api,cp1,0,UP,1,,\n" +
		"kube-api,cp2,0,DOWN,1,,\n" +
		"kube-api,BACKEND,0,UP,1,,\n" +
		"ingress-http,w1,0,UP,1,,\n"
	rows, err := parseStatsCSV(strings.NewReader(csv))
	if err != nil || len(rows) != 5 {
		t.Fatalf("parseStatsCSV = %v, %v", rows, err)
	}
	if r := rows[0]; r["pxname"] != "kube-api" || r["svname"] != "FRONTEND" || r["scur"] != "12" || r["slim"] != "400" {
		t.Errorf("the frontend's row = %v", r)
	}
	if r := rows[2]; r["svname"] != "cp2" || r["status"] != "DOWN" {
		t.Errorf("cp2's row = %v", r)
	}
}

// TestLabStateIsTheQuickStart keeps the lab honest: its state.yaml is the
// README quick start's with haproxy.maxconn lowered, and nothing else.
func TestLabStateIsTheQuickStart(t *testing.T) {
	quick, err := ReadQuickStart()
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := state.Parse("quickstart", quick)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := state.Parse("lab", LabState(quick))
	if err != nil {
		t.Fatal(err)
	}
	if got.HAProxy.MaxConn != LabMaxConn {
		t.Errorf("haproxy.maxconn = %d, want %d", got.HAProxy.MaxConn, LabMaxConn)
	}
	got.HAProxy.MaxConn = want.HAProxy.MaxConn
	if got.Hash() != want.Hash() {
		t.Error("the lab's state differs from the quick start's in more than haproxy.maxconn")
	}
	if _, err := Edit(quick, "  - {name: cp9, address: 10.0.0.19}\n", ""); err == nil {
		t.Error("Edit of a line that is not there: want an error")
	}
}

// TestWithAdvertInterval: the fast profile's lab differs from the lab's
// state in keepalived.advertInterval only.
func TestWithAdvertInterval(t *testing.T) {
	quick, err := ReadQuickStart()
	if err != nil {
		t.Fatal(err)
	}
	base := LabState(quick)
	fast, err := WithAdvertInterval(base, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := state.Parse("lab", base)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := state.Parse("fast", fast)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(got.Keepalived.AdvertInterval); d != 300*time.Millisecond {
		t.Errorf("keepalived.advertInterval = %s, want 300ms", d)
	}
	got.Keepalived.AdvertInterval = want.Keepalived.AdvertInterval
	if got.Hash() != want.Hash() {
		t.Error("the fast profile's state differs from the lab's in more than keepalived.advertInterval")
	}
	if _, err := WithAdvertInterval(fast, time.Second); err == nil {
		t.Error("setting advertInterval twice: want an error")
	}
}

func TestNewPlan(t *testing.T) {
	quick, err := ReadQuickStart()
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(quick)
	if err != nil {
		t.Fatal(err)
	}
	lb2, ok := p.LB("lb2")
	if !ok || lb2.Private != netip.MustParseAddr("10.0.0.6") || lb2.Public != netip.MustParseAddr("198.51.100.3") || lb2.ServerID != 1002 {
		t.Errorf("lb2 = %+v", lb2)
	}
	if len(p.ControlPlanes) != 3 || len(p.Workers) != 3 || p.PublicIface != "eth0" || p.PrivateIface != "enp7s0" || p.FloatingIPID != 4711 {
		t.Errorf("plan = %+v", p)
	}
}

func TestResultsTable(t *testing.T) {
	var r Results
	ms := func(v float64) *float64 { return &v }
	yes, no := true, false
	three := 3
	for _, v := range []float64{3000, 3400, 3200} {
		r.Add("haproxy-kill", Hakgen, Run{Passed: true, Recovered: &yes, OutageMS: ms(v), APIRequests: &three})
	}
	for range 3 {
		r.Add("haproxy-kill", Seed, Run{Passed: true, Recovered: &no, Window: 30})
	}
	r.Add("node-loss", Hakgen, Run{Passed: true, Recovered: &yes, OutageMS: ms(4000)})
	r.Add("node-loss", Seed, Run{Passed: true, Recovered: &yes, OutageMS: ms(5000)})
	r.Add("readyz-503", Hakgen, Run{Passed: false, Figure: &Figure{Name: "no new connection after", Value: 14.5, Unit: "s"}})
	r.Add("state-edit", Hakgen, Run{Passed: true, Figure: &Figure{Name: "applied on both", Value: 1680.4, Unit: "ms"}})
	r.Add("reload-under-load", Hakgen, Run{Passed: true, Figure: &Figure{Name: "reloads", Value: 30}, More: []Figure{{Name: "old workers at once", Value: 2}, {Name: "RSS", Value: 61.5, Unit: "MB"}}})
	r.Add("reload-under-load", Hakgen, Run{Passed: true, Figure: &Figure{Name: "reloads", Value: 30}, More: []Figure{{Name: "old workers at once", Value: 4}, {Name: "RSS", Value: 70.25, Unit: "MB"}}})
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"3000 / 3200 / 3400", "no recovery within 30 s (3/3 runs)", "never recovers",
		"1.25x", "FAIL 1/1", "no new connection after: 14.5 s", "pass 3/3", "applied on both: 1680 ms",
		"reloads: 30 / 30 / 30; old workers at once: 2 / 3 / 4; RSS: 61.5 / 65.9 / 70.2 MB",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestNodes runs two bare nodes linked by a veth pair: a listener in one,
// a client in the other, a firewall rule in the first that drops the
// client, and a teardown that leaves none of their processes.
func TestNodes(t *testing.T) {
	tools := FindTools(t, false)
	dir := t.TempDir()
	tag := "lab-" + randomHex(4)
	var nodes []*Node
	for _, name := range []string{"a", "b"} {
		n, err := startNode(&tools, nodeSpec{name: name, tag: tag + "-" + name, dir: dir + "/" + name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		nodes = append(nodes, n)
	}
	a, b := nodes[0], nodes[1]
	ctx := t.Context()
	if err := a.ipBatch(ctx, "link set lo up", "link add eth0 type veth peer name eth0 netns "+itoa(b.pid1),
		"addr add 10.9.0.1/24 dev eth0", "link set eth0 up"); err != nil {
		t.Fatal(err)
	}
	if err := b.ipBatch(ctx, "addr add 10.9.0.2/24 dev eth0", "link set eth0 up"); err != nil {
		t.Fatal(err)
	}
	if out := a.MustRun(t, "hostname"); strings.TrimSpace(out) != "a" {
		t.Errorf("hostname in node a = %q", out)
	}
	ln, err := a.Listen("tcp", "10.9.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dial := func() error {
		ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		c, err := b.Dialer(netip.Addr{})(ctx, "tcp", "10.9.0.1:8080")
		if err == nil {
			c.Close()
		}
		return err
	}
	// A fresh link may drop the first packets (carrier, neighbours): try
	// for up to 10 s.
	for range 20 {
		if err = dial(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("dialing from b to a: %v", err)
	}
	rules := "table inet lab {\n\tchain input {\n\t\ttype filter hook input priority 0;\n\t\ttcp dport 8080 drop\n\t}\n}\n"
	if err := a.Nft(ctx, rules); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err == nil {
		t.Error("a dial got through a's firewall rule")
	}
	holders := []int{a.pid1, b.pid1}
	a.Close()
	b.Close()
	for _, pid := range holders {
		if state, err := procState(pid); err == nil && state != 'Z' {
			t.Errorf("PID 1 of a node (%d) still runs after Close (state %c)", pid, state)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

package haproxy_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/haproxy"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// brief is what the captures in testdata say about one server; the
// expectations follow from testdata/servers-state.cfg and the commands in
// testdata/README.md.
type brief struct {
	backend, name string
	addr          string // "" for none
	port          int
	admin         haproxy.AdminState
	weight        int
	iweight       int
	fqdn          string
}

func briefOf(s haproxy.ServerState) brief {
	b := brief{backend: s.Backend, name: s.Name, port: s.Port, admin: s.Admin, weight: s.Weight, iweight: s.InitialWeight, fqdn: s.FQDN}
	if s.Addr.IsValid() {
		b.addr = s.Addr.String()
	}
	return b
}

func TestParseServersState(t *testing.T) {
	common := []brief{
		{"kube-api", "cp1", "127.0.0.1", 18556, haproxy.AdminForcedDrain, 1, 1, ""},
		{"kube-api", "cp2", "127.0.0.1", 18557, 0, 0, 0, ""},
		{"kube-api", "cp3", "::1", 18558, 0, 1, 1, ""},
		{"ingress-http", "w1", "127.0.0.1", 18556, haproxy.AdminForcedMaint, 7, 1, ""},
		{"ingress-http", "w2", "127.0.0.1", 18599, 0, 1, 1, ""},
	}
	w4 := brief{"ingress-http", "w4", "127.0.0.1", 18557, haproxy.AdminForcedMaint, 1, 1, ""}
	for _, c := range []struct {
		file string
		w3   brief
	}{
		{"servers-state-2.6.txt", brief{"ingress-http", "w3", "127.0.0.1", 18556, 0, 1, 1, "localhost"}},
		{"servers-state-3.0.txt", brief{"ingress-http", "w3", "", 18556, haproxy.AdminResolutionMaint, 1, 1, "localhost"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			states, err := haproxy.ParseServersState(readTestdata(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			want := append(append(append([]brief(nil), common...), c.w3), w4)
			if len(states) != len(want) {
				t.Fatalf("got %d servers, want %d: %+v", len(states), len(want), states)
			}
			for i, s := range states {
				if got := briefOf(s); got != want[i] {
					t.Errorf("server %d = %+v, want %+v", i, got, want[i])
				}
			}
			if states[1].Op != haproxy.OpRunning || states[4].Op != haproxy.OpStopped {
				t.Errorf("op states cp2 %v, w2 %v; want running (checked up) and stopped (nothing listens)", states[1].Op, states[4].Op)
			}
		})
	}
}

func TestParseServersStateOneBackend(t *testing.T) {
	for _, v := range []string{"2.6", "3.0"} {
		states, err := haproxy.ParseServersState(readTestdata(t, "servers-state-backend-"+v+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range states {
			names = append(names, s.Backend+"/"+s.Name)
		}
		if got := strings.Join(names, " "); got != "kube-api/cp1 kube-api/cp2 kube-api/cp3" {
			t.Errorf("%s: servers %s, want kube-api's three", v, got)
		}
	}
}

func TestParseServersStateRefusesOtherAnswers(t *testing.T) {
	for _, c := range []struct{ name, answer string }{
		{"no backend 2.6", readTestdata(t, "servers-state-no-backend-2.6.txt")},
		{"no backend 3.0", readTestdata(t, "servers-state-no-backend-3.0.txt")},
		{"unknown version", "2\n# be_id be_name srv_id\n"},
		{"empty", ""},
		{"column missing", "1\n# be_id be_name srv_id srv_name\n1 be 1 a\n"},
		{"short line", strings.Replace(readTestdata(t, "servers-state-2.6.txt"), " 18557 - 0 0 - - 0", "", 1)},
		{"bad address", strings.Replace(readTestdata(t, "servers-state-2.6.txt"), "::1", "::g", 1)},
	} {
		if states, err := haproxy.ParseServersState(c.answer); err == nil {
			t.Errorf("%s: parsed %+v, want an error", c.name, states)
		}
	}
}

func TestAdminState(t *testing.T) {
	for _, c := range []struct {
		a            haproxy.AdminState
		ready, maint bool
		drain        bool
		text         string
	}{
		{0, true, false, false, "ready"},
		{haproxy.AdminForcedMaint, false, true, false, "maint"},
		{haproxy.AdminForcedMaint | haproxy.AdminConfigMaint, false, true, false, "maint+config-maint"},
		{haproxy.AdminForcedDrain, false, false, true, "drain"},
		{haproxy.AdminResolutionMaint, false, true, false, "resolution-maint"},
		{haproxy.AdminFQDNFromCLI, true, false, false, "fqdn-from-cli"},
		{0x80, true, false, false, "0x80"},
	} {
		if c.a.Ready() != c.ready || c.a.Maint() != c.maint || c.a.Drain() != c.drain || c.a.String() != c.text {
			t.Errorf("%#x: ready %v maint %v drain %v %q; want %v %v %v %q",
				uint8(c.a), c.a.Ready(), c.a.Maint(), c.a.Drain(), c.a.String(), c.ready, c.maint, c.drain, c.text)
		}
	}
}

func TestParseServerSessions(t *testing.T) {
	for _, v := range []string{"2.6", "3.0"} {
		got, err := haproxy.ParseServerSessions(readTestdata(t, "stat-servers-"+v+".txt"), "ingress-http")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"w1": 0, "w2": 0, "w3": 0, "w4": 0}
		if len(got) != len(want) {
			t.Errorf("%s: sessions %v, want %v", v, got, want)
		}
		for name, n := range want {
			if s, ok := got[name]; !ok || s != n {
				t.Errorf("%s: sessions of %s = %d (listed %v), want %d", v, name, s, ok, n)
			}
		}
	}
	for _, answer := range []string{"No such proxy.\n\n", "", "# pxname,svname\nbe,a\n", "# pxname,svname,scur\nbe,a,x\n"} {
		if got, err := haproxy.ParseServerSessions(answer, "be"); err == nil {
			t.Errorf("ParseServerSessions(%q) = %v, want an error", answer, got)
		}
	}
	got, err := haproxy.ParseServerSessions("# pxname,svname,qcur,qmax,scur\nbe,a,0,0,3\nbe,BACKEND,0,0,3\nother,a,0,0,9\n", "be")
	if err != nil || len(got) != 1 || got["a"] != 3 {
		t.Errorf("the BACKEND line and another backend's server must be skipped and be/a's 3 sessions read: %v, %v", got, err)
	}
}

func TestAddrPortFormat(t *testing.T) {
	c := haproxy.AddServer("be", "a", netip.MustParseAddrPort("[fd00::1]:6443"), []string{"check"})
	if got := c.String(); got != "add server be/a [fd00::1]:6443 check" {
		t.Errorf("AddServer IPv6 = %q", got)
	}
	c = haproxy.SetServerAddr("be", "a", netip.MustParseAddrPort("[fd00::1]:6443"))
	if got := c.String(); got != "set server be/a addr fd00::1 port 6443" {
		t.Errorf("SetServerAddr IPv6 = %q", got)
	}
}

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/render"
)

// doctorNode is lb1 of the quick start in a network namespace, with lb2
// in a second one across a veth pair: lb2 runs Debian's keepalived as
// MASTER, so its VRRP adverts reach lb1, and the control planes' API
// servers, TLS servers with certificates of their own. The fake Hetzner
// API and metadata service run in lb1's namespace.
type doctorNode struct {
	*validateNode
	peer  *testNetns
	fake  *hetznertest.Fake
	certs [3]atomic.Pointer[tls.Certificate] // cp1..cp3's
}

func newDoctorNode(t *testing.T) *doctorNode {
	t.Helper()
	v := newValidateNode(t, true)
	ip := tooltest.Need(t, "ip")
	d := &doctorNode{validateNode: v, peer: newTestNetns(t)}
	// The peer end of enp7s0 moves into lb2's namespace as its enp7s0,
	// holding lb2's address and the control planes'.
	v.ns.run(t, ip, "link", "set", "enp7s0-p", "netns", strconv.Itoa(d.peer.tid))
	d.peer.run(t, ip, "link", "set", "lo", "up")
	d.peer.run(t, ip, "link", "set", "enp7s0-p", "name", "enp7s0")
	for _, a := range []string{"10.0.0.6/24", "10.0.0.11/32", "10.0.0.12/32", "10.0.0.13/32"} {
		d.peer.run(t, ip, "addr", "add", a, "dev", "enp7s0")
	}
	d.peer.run(t, ip, "link", "set", "enp7s0", "up")

	good := []string{"203.0.113.10", "k8s.example.com"}
	for i := range d.certs {
		d.certs[i].Store(selfSigned(t, "cp"+strconv.Itoa(i+1), good))
		d.serveTLS(t, "10.0.0.1"+strconv.Itoa(i+1)+":6443", &d.certs[i])
	}

	v.ns.do(func() { d.fake = hetznertest.New(t) })
	d.fake.RequireToken(notifyToken)
	writeNotifyFile(t, v.token, notifyToken+"\n", 0o600)
	v.write(t, quickStartState(t)+"haproxy: {maxconn: 2000}\n") // the test's descriptor limit is 20000
	t.Setenv("HCLOUD_ENDPOINT", d.fake.APIEndpoint())
	t.Setenv("HCLOUD_METADATA_ENDPOINT", d.fake.MetadataEndpoint())
	t.Setenv("HCLOUD_TOKEN", "")
	t.Setenv("CREDENTIALS_DIRECTORY", "")

	conf := filepath.Join(v.dir, "lb2-keepalived.conf")
	writeNotifyFile(t, conf, `global_defs {
  script_user root
  enable_script_security
}
vrrp_instance hakgen-prod {
  state MASTER
  interface enp7s0
  virtual_router_id 51
  priority 250
  advert_int 1
  unicast_src_ip 10.0.0.6
  unicast_peer {
    10.0.0.5
  }
}
`, 0o644)
	runDir := filepath.Join(v.dir, "lb2-run")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := startKeepalived(t, d.peer, v.unshare, tooltest.Need(t, "keepalived"), conf, runDir, d.fake)
	waitForKeepalived(t, "lb2 to become MASTER", out, func() bool { return strings.Contains(out.String(), "Entering MASTER STATE") })
	return d
}

// serveTLS serves TLS at addr in the peer's namespace with the
// certificate cert points to at each handshake.
func (d *doctorNode) serveTLS(t *testing.T, addr string, cert *atomic.Pointer[tls.Certificate]) {
	t.Helper()
	var ln net.Listener
	var err error
	d.peer.do(func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.Load(), nil }}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
				_ = tc.Handshake()
			}()
		}
	}()
}

// selfSigned is a certificate for cn naming sans (IP addresses or DNS
// names).
func selfSigned(t *testing.T, cn string, sans []string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"kubernetes", cn},
	}
	for _, s := range sans {
		if a := net.ParseIP(s); a != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, a)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, s)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// doctor runs doctor on lb1 and returns its exit code, output and the
// checks it printed by name.
func (d *doctorNode) doctor(t *testing.T, args ...string) (int, string, map[string]doctorLine) {
	t.Helper()
	code, out := d.agent(t, "20000", append([]string{"doctor", "--state", d.state, "--name", "k8s.example.com", "--vrrp-wait", "3s"}, args...)...)
	return code, out, doctorLines(out)
}

type doctorLine struct{ status, detail, fix string }

// doctorLines reads doctor's "STATUS  check: detail" lines and the "fix:"
// line under each.
func doctorLines(out string) map[string]doctorLine {
	lines := map[string]doctorLine{}
	last := ""
	for _, l := range strings.Split(out, "\n") {
		if fix, ok := strings.CutPrefix(l, "      fix: "); ok && last != "" {
			dl := lines[last]
			dl.fix = fix
			lines[last] = dl
			continue
		}
		status, rest, ok := strings.Cut(l, "  ")
		if !ok || (status != "PASS" && status != "WARN" && status != "FAIL") {
			continue
		}
		check, detail, _ := strings.Cut(rest, ": ")
		last = check
		lines[check] = doctorLine{status: status, detail: detail}
	}
	return lines
}

// want fails the test unless check has status and its detail (or fix)
// contains each of texts.
func (l doctorLine) want(t *testing.T, out, check, status string, texts ...string) {
	t.Helper()
	if l.status != status {
		t.Errorf("%s: %s %q, want %s\n%s", check, l.status, l.detail, status, out)
		return
	}
	for _, s := range texts {
		if !strings.Contains(l.detail+" fix: "+l.fix, s) {
			t.Errorf("%s: %q (fix %q) lacks %q", check, l.detail, l.fix, s)
		}
	}
}

// TestDoctorFindsWhatBitesAtTheFirstFailover: on a ready lb1 every
// check passes (the clock's may warn on a machine without time
// synchronization, and then the exit code is 5); each fault a first
// failover trips over is found at its check, with a fix, and the exit
// code says it: a certificate without the Floating IP, VRRP dropped by a
// firewall (a warning on the MASTER and before keepalived reported a
// state), a wrong server ID, a token others
// can read or the API refuses, a drill's maintenance flag left set, a
// missing interface.
func TestDoctorFindsWhatBitesAtTheFirstFailover(t *testing.T) {
	nft := tooltest.Need(t, "nft")
	d := newDoctorNode(t)

	d.certs[2].Store(selfSigned(t, "cp3", nil))
	code, out, lines := d.doctor(t)
	lines["certificate of cp3"].want(t, out, "certificate of cp3", "FAIL", "does not name 203.0.113.10, k8s.example.com", "--apiserver-cert-extra-sans")
	lines["certificate of cp1"].want(t, out, "certificate of cp1", "PASS", "names 203.0.113.10, k8s.example.com")
	if code != exitInvalid {
		t.Errorf("a failed check: exit %d, want %d\n%s", code, exitInvalid, out)
	}

	d.certs[2].Store(selfSigned(t, "cp3", []string{"203.0.113.10", "k8s.example.com"}))
	code, out, lines = d.doctor(t)
	for _, check := range []string{"certificate of cp1", "certificate of cp2", "certificate of cp3", "VRRP adverts", "server ID",
		"API token", "token file " + d.token, "interface enp7s0", "interface eth0", "haproxy version", "keepalived version", "maintenance flag"} {
		lines[check].want(t, out, check, "PASS")
	}
	lines["VRRP adverts"].want(t, out, "VRRP adverts", "PASS", "from lb2")
	lines["server ID"].want(t, out, "server ID", "PASS", "1001")
	worst := "PASS"
	for check, l := range lines {
		if l.status == "FAIL" || (l.status == "WARN" && check != "clock") {
			t.Errorf("a ready node: %s %s: %s", l.status, check, l.detail)
		}
		if l.status == "WARN" {
			worst = "WARN"
		}
	}
	if want := map[string]int{"PASS": exitOK, "WARN": exitWarnings}[worst]; code != want || (code == exitOK) != strings.Contains(out, "lb1: every check passed") {
		t.Errorf("a ready node, worst check %s: exit %d, want %d\n%s", worst, code, want, out)
	}

	t.Run("VRRP dropped", func(t *testing.T) {
		d.ns.run(t, nft, "add table inet hakgen_test; add chain inet hakgen_test in { type filter hook input priority 0; }; add rule inet hakgen_test in ip protocol 112 drop")
		defer d.ns.run(t, nft, "delete table inet hakgen_test")
		backup, master := t.TempDir(), t.TempDir()
		for dir, st := range map[string]failover.State{backup: failover.Backup, master: failover.Master} {
			if _, err := failover.NewStore(dir).Record(context.Background(), failover.Event{State: st, Kind: "INSTANCE", Name: "hakgen-prod", Priority: 250}); err != nil {
				t.Fatal(err)
			}
		}
		code, out, lines := d.doctor(t, "--state-dir", backup)
		lines["VRRP adverts"].want(t, out, "VRRP adverts", "FAIL", "no VRRP advert from a peer arrived in 3s", "allow IP protocol 112")
		if code != exitInvalid {
			t.Errorf("exit %d, want %d", code, exitInvalid)
		}
		// On the MASTER, whose peer sends nothing, silence is expected;
		// before keepalived reported any state, it may be.
		_, out, lines = d.doctor(t, "--state-dir", master)
		lines["VRRP adverts"].want(t, out, "VRRP adverts", "WARN", "this node is MASTER", "run hakgen-agent doctor on the BACKUP")
		_, out, lines = d.doctor(t)
		lines["VRRP adverts"].want(t, out, "VRRP adverts", "WARN", "keepalived has reported no state on this node yet", "allow IP protocol 112")
	})

	t.Run("wrong server ID", func(t *testing.T) {
		d.write(t, strings.Replace(quickStartState(t), "serverID: 1001", "serverID: 1009", 1)+"haproxy: {maxconn: 2000}\n")
		defer d.write(t, quickStartState(t)+"haproxy: {maxconn: 2000}\n")
		code, out, lines := d.doctor(t)
		lines["server ID"].want(t, out, "server ID", "FAIL", "the state says server 1009, the metadata service says 1001", "set serverID: 1001")
		if code != exitInvalid {
			t.Errorf("exit %d, want %d", code, exitInvalid)
		}
	})

	t.Run("token others can read", func(t *testing.T) {
		writeNotifyFile(t, d.token, notifyToken+"\n", 0o644)
		defer writeNotifyFile(t, d.token, notifyToken+"\n", 0o600)
		code, out, lines := d.doctor(t)
		lines["token file "+d.token].want(t, out, "token file", "FAIL", "has mode 0644")
		lines["API token"].want(t, out, "API token", "FAIL", "0644")
		if code != exitInvalid {
			t.Errorf("exit %d, want %d", code, exitInvalid)
		}
	})

	t.Run("token the API refuses", func(t *testing.T) {
		writeNotifyFile(t, d.token, "an-0ld-t0ken\n", 0o600)
		defer writeNotifyFile(t, d.token, notifyToken+"\n", 0o600)
		_, out, lines := d.doctor(t)
		lines["API token"].want(t, out, "API token", "FAIL", "reading Floating IP 4711 with the token failed", "Read & Write")
		if strings.Contains(out, "an-0ld-t0ken") || strings.Contains(out, notifyToken) {
			t.Errorf("doctor shows the token:\n%s", out)
		}
	})

	t.Run("maintenance flag left set", func(t *testing.T) {
		dir := t.TempDir()
		writeNotifyFile(t, filepath.Join(dir, "maintenance"), "1\n", 0o644)
		code, out, lines := d.doctor(t, "--state-dir", dir)
		lines["maintenance flag"].want(t, out, "maintenance flag", "FAIL", "held out of MASTER", "echo 0 > "+filepath.Join(dir, "maintenance"))
		if code != exitInvalid {
			t.Errorf("exit %d, want %d", code, exitInvalid)
		}
	})

	t.Run("control planes discovered", func(t *testing.T) {
		d.fake.AddNetwork(7, "k8s", "10.0.0.0/16")
		d.fake.PutServer(hetznertest.ServerSpec{ID: 3013, Name: "cp3", Labels: map[string]string{"role": "control-plane"},
			Private: map[int64]string{7: "10.0.0.13"}})
		discovering := strings.Replace(quickStartState(t), "  - {name: cp3, address: 10.0.0.13}\n", "", 1) +
			"haproxy: {maxconn: 2000}\ndiscovery:\n  hcloud: {network: k8s, controlPlanes: role=control-plane}\n"
		d.write(t, discovering)
		defer d.write(t, quickStartState(t)+"haproxy: {maxconn: 2000}\n")
		_, out, lines := d.doctor(t)
		lines["discovery"].want(t, out, "discovery", "PASS", "3 control planes")
		lines["certificate of cp3"].want(t, out, "certificate of cp3", "PASS", "names 203.0.113.10, k8s.example.com")
	})

	t.Run("every address", func(t *testing.T) {
		// Dual stack and active/active with the private VIP: the
		// certificates must name each address, and a drill --instance
		// flag left set is found as the node's is.
		yaml := strings.Replace(quickStartState(t), quickStartFloatingIPLine, `hcloud: {tokenFile: /etc/hakgen/hcloud-token}
floatingIPs:
  - {id: 4711, address: 203.0.113.10, interface: eth0}
  - {id: 4712, address: "2001:db8:1::1", interface: eth0}
  - {id: 4713, address: 203.0.113.11, interface: eth0, preferred: lb2}
privateVIP: {address: 10.0.255.1, network: k8s}
`, 1)
		d.write(t, strings.Replace(yaml, "/etc/hakgen/hcloud-token", d.token, 1)+"haproxy: {maxconn: 2000}\n")
		defer d.write(t, quickStartState(t)+"haproxy: {maxconn: 2000}\n")
		all := []string{"203.0.113.10", "2001:db8:1::1", "203.0.113.11", "10.0.255.1", "k8s.example.com"}
		d.certs[1].Store(selfSigned(t, "cp2", all))
		defer d.certs[1].Store(selfSigned(t, "cp2", []string{"203.0.113.10", "k8s.example.com"}))
		dir := t.TempDir()
		flag := filepath.Join(dir, render.InstanceMaintenanceFile("hakgen-prod-lb2"))
		writeNotifyFile(t, flag, "1\n", 0o644)
		code, out, lines := d.doctor(t, "--state-dir", dir)
		lines["certificate of cp1"].want(t, out, "certificate of cp1", "FAIL", "does not name 2001:db8:1::1, 203.0.113.11, 10.0.255.1")
		lines["certificate of cp2"].want(t, out, "certificate of cp2", "PASS", "names 203.0.113.10, 2001:db8:1::1, 203.0.113.11, 10.0.255.1, k8s.example.com")
		lines["maintenance flag of hakgen-prod-lb2"].want(t, out, "maintenance flag of hakgen-prod-lb2", "FAIL", "held out of MASTER of hakgen-prod-lb2", "echo 0 > "+flag)
		if _, ok := lines["maintenance flag of hakgen-prod"]; ok {
			t.Errorf("doctor reports the flag of hakgen-prod, which is not set:\n%s", out)
		}
		if code != exitInvalid {
			t.Errorf("exit %d, want %d", code, exitInvalid)
		}
	})

	t.Run("no eth0", func(t *testing.T) {
		d.ns.run(t, tooltest.Need(t, "ip"), "link", "del", "eth0")
		code, out, lines := d.doctor(t)
		lines["interface eth0"].want(t, out, "interface eth0", "FAIL", `interface "eth0" does not exist on this node`)
		if code != exitInvalid {
			t.Errorf("exit %d, want %d", code, exitInvalid)
		}
	})
}

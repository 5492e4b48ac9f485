package preflight

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hakgen/hakgen/internal/childproc"
	"github.com/hakgen/hakgen/state"
)

// Certificates checks that every control plane's certificate names every
// Floating IP and the private VIP, and each of names (DNS names clients
// use), in its SANs: clients reach the API servers through these addresses
// and verify the certificate against them. The check dials each API server
// directly, reads its certificate and verifies the names only (not the
// chain, whose CA this machine need not have).
func Certificates(ctx context.Context, s *state.State, names []string) []Result {
	var want []string
	for _, f := range s.FloatingIPList() {
		want = append(want, f.Address)
	}
	if v := s.PrivateVIP; v != nil {
		want = append(want, v.Address)
	}
	want = append(want, names...)
	if len(want) == 0 {
		return nil
	}
	if len(s.ControlPlanes) == 0 {
		return []Result{warn("certificates", "controlPlanes", "check that discovery finds the control planes (hakgen-agent validate), or list them",
			"no control plane to check: the state lists none and discovery found none")}
	}
	var results []Result
	for i, cp := range s.ControlPlanes {
		field := fmt.Sprintf("controlPlanes[%d]", i)
		check := "certificate of " + cp.Name
		addr := net.JoinHostPort(cp.Address, strconv.Itoa(s.APIServer.BackendPort))
		leaf, err := peerCertificate(ctx, addr)
		if err != nil {
			results = append(results, warn(check, field, "check that the API server listens there and speaks TLS",
				"cannot read the certificate of %s at %s: %v", cp.Name, addr, err))
			continue
		}
		var missing []string
		for _, name := range want {
			if leaf.VerifyHostname(name) != nil {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			results = append(results, fail(check, field,
				"add them to the API server's certificate SANs (kubeadm: --apiserver-cert-extra-sans, k3s/RKE2: tls-san) and renew it",
				"the certificate of %s does not name %s: clients through the load balancer would refuse it", cp.Name, strings.Join(missing, ", ")))
			continue
		}
		results = append(results, pass(check, field, "the certificate of %s names %s", cp.Name, strings.Join(want, ", ")))
	}
	return results
}

func peerCertificate(ctx context.Context, addr string) (*x509.Certificate, error) {
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, ServerName: "kubernetes"}} //nolint:gosec // only the names are read
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	return certs[0], nil
}

// VRRPRole is what keepalived last reported on this node, as far as the
// VRRP adverts check cares.
type VRRPRole int

const (
	// VRRPUnknown: keepalived has reported no state here (it has not run
	// since boot).
	VRRPUnknown VRRPRole = iota
	// VRRPMaster: this node sends the adverts, its peer none.
	VRRPMaster
	// VRRPOther: BACKUP or FAULT; the MASTER's adverts must arrive.
	VRRPOther
)

// VRRPAdverts listens for VRRP adverts (IP protocol 112) from the peers on
// this node for up to within: only the MASTER sends them, so on the
// BACKUP they must arrive; a firewall that drops IP protocol 112 between
// the nodes makes both MASTER. On the MASTER missing adverts are
// expected: the check says to run doctor on the BACKUP. Before keepalived
// has reported a state here, silence may mean the peer's keepalived does
// not run either: a warning.
func VRRPAdverts(ctx context.Context, s *state.State, node string, role VRRPRole, within time.Duration) Result {
	check := "VRRP adverts"
	peers := map[netip.Addr]string{}
	for _, lb := range s.LoadBalancers {
		if a, err := netip.ParseAddr(lb.Address); err == nil && lb.Name != node {
			peers[a.Unmap()] = lb.Name
		}
	}
	if len(peers) == 0 {
		return pass(check, "loadBalancers", "no peer to hear from")
	}
	from, err := listenVRRP(ctx, peers, within)
	switch {
	case err != nil:
		return warn(check, "keepalived.interface", "run doctor as root", "cannot listen for VRRP adverts: %v", err)
	case from != "":
		return pass(check, "keepalived.interface", "VRRP adverts from %s arrive", from)
	case role == VRRPMaster:
		return warn(check, "keepalived.interface", "run hakgen-agent doctor on the BACKUP, which must hear this node's adverts",
			"this node is MASTER: its peer sends no adverts, so none arrived in %s", within)
	case role == VRRPUnknown:
		return warn(check, "keepalived.interface", "once keepalived runs on both, run hakgen-agent doctor on the BACKUP; if the peer's keepalived runs already, allow IP protocol 112 (VRRP) between the load balancers",
			"no VRRP advert from a peer arrived in %s, and keepalived has reported no state on this node yet", within)
	}
	return fail(check, "keepalived.interface",
		"allow IP protocol 112 (VRRP) between the load balancers' private addresses in every firewall (nft, Hetzner Cloud firewall) and check the private network",
		"no VRRP advert from a peer arrived in %s: without them each node takes itself for MASTER", within)
}

// listenVRRP waits for an IP protocol 112 packet from one of peers and
// returns that peer's name; "" when none came in time.
func listenVRRP(ctx context.Context, peers map[netip.Addr]string, within time.Duration) (string, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, 112)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(within)
	buf := make([]byte, 2048)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return "", err
		}
		_, sa, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return "", err
		}
		if in4, ok := sa.(*unix.SockaddrInet4); ok {
			if name, ok := peers[netip.AddrFrom4(in4.Addr)]; ok {
				return name, nil
			}
		}
	}
	return "", nil
}

// ServerID checks loadBalancers[].serverID of this node against what the
// metadata service says (asked is its answer, err its failure).
func ServerID(field string, inState, asked int64, err error) Result {
	check := "server ID"
	switch {
	case err != nil:
		return warn(check, field, "the Floating IP moves by server ID: check the metadata service (169.254.169.254) answers",
			"cannot ask the metadata service: %v", err)
	case inState == 0:
		return pass(check, field, "the metadata service says this is server %d (not in the state: notify asks it once and caches it)", asked)
	case inState != asked:
		return fail(check, field, fmt.Sprintf("set serverID: %d for this node (see hcloud server list)", asked),
			"the state says server %d, the metadata service says %d: notify would move the Floating IP to the wrong server", inState, asked)
	}
	return pass(check, field, "server ID %d matches the metadata service", asked)
}

var versionRe = regexp.MustCompile(`(?i)(haproxy|keepalived) v(?:ersion )?(\d+)\.(\d+)`)

// Version checks that a tool's version (what `bin -v` prints) is at least
// major.minor.
func Version(ctx context.Context, name, bin string, major, minor int) Result {
	check := name + " version"
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// As every child of the agent: PATH only (the environment may hold the
	// API token), bounded output, its whole process group ended.
	out, err := childproc.Run(cctx, bin, "-v")
	if err != nil && len(out) == 0 {
		return fail(check, "", "install it: apt-get install "+name, "%s -v: %v", bin, err)
	}
	m := versionRe.FindStringSubmatch(out)
	if m == nil {
		return warn(check, "", "", "cannot read the version of %s from %q", bin, firstLine(out))
	}
	maj, _ := strconv.Atoi(m[2])
	mino, _ := strconv.Atoi(m[3])
	if maj < major || (maj == major && mino < minor) {
		return fail(check, "", fmt.Sprintf("upgrade %s to %d.%d or newer", name, major, minor),
			"%s %d.%d is older than %d.%d, the oldest hakgen supports", name, maj, mino, major, minor)
	}
	return pass(check, "", "%s %d.%d", name, maj, mino)
}

// Clock checks that the kernel's clock is synchronized (NTP): the
// Hetzner API and TLS refuse requests whose time is far off.
func Clock() Result {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return warn("clock", "", "", "cannot read the clock's state: %v", err)
	}
	if state == unix.TIME_ERROR || tx.Status&unix.STA_UNSYNC != 0 {
		return warn("clock", "", "enable time synchronization: timedatectl set-ntp true (systemd-timesyncd or chrony)",
			"the clock is not synchronized")
	}
	return pass("clock", "", "the clock is synchronized")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TokenAPI is the one read request Token makes: where the Floating IP
// points (*hetzner.Client's Owner).
type TokenAPI interface {
	Owner(ctx context.Context, floatingIPID int64) (int64, error)
}

// Token checks that the API token works, with one read request (the
// Floating IP); err is the error of building the client (no token, a file
// others can read, ...).
func Token(ctx context.Context, s *state.State, api TokenAPI, err error, floatingIPID int64) Result {
	check := "API token"
	_, field := s.TokenFile()
	if field == "" {
		field = "hcloud.tokenFile"
	}
	if err != nil {
		return fail(check, field, "see the message; the token belongs in a root-only file (chmod 600)", "%v", err)
	}
	owner, err := api.Owner(ctx, floatingIPID)
	if err != nil {
		idField := "floatingIP.id"
		if len(s.FloatingIPs) > 0 {
			idField = "floatingIPs[0].id"
		}
		return fail(check, idField, "check the token (Read & Write, of the Floating IP's project) and "+idField+" with hcloud floating-ip list",
			"reading Floating IP %d with the token failed: %v", floatingIPID, err)
	}
	return pass(check, field, "the token reads Floating IP %d (on server %d)", floatingIPID, owner)
}

package haproxytest

import (
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ioTimeout bounds one connection of NameServer and Ask.
const ioTimeout = 5 * time.Second

// ServeName answers every connection ln accepts with name and a newline,
// each in a goroutine of wg, until ln is closed.
func ServeName(ln net.Listener, name string, wg *sync.WaitGroup) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return // listener closed
		}
		wg.Go(func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(ioTimeout))
			_, _ = io.WriteString(conn, name+"\n")
			// Half-close, then read what the client sent until it is done:
			// closing with unread input would reset the connection and
			// could lose the answer on its way.
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.CloseWrite()
				_, _ = io.Copy(io.Discard, conn)
			}
		})
	}
}

// NameServer starts a TCP server on a free loopback port that answers every
// connection with name and a newline, then closes it. It returns the
// server's "127.0.0.1:port"; t.Cleanup stops it.
func NameServer(t testing.TB, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("haproxytest: name server %s: %v", name, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { ServeName(ln, name, &wg) })
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// Ask connects to addr, sends a TLS ClientHello and returns everything the
// peer sends until it closes the connection (what a NameServer behind
// HAProxy answers). The rendered frontends accept a connection only once
// it has sent something (ingress HTTP) or a ClientHello (the API, ingress
// HTTPS): a ClientHello passes every one of them, and a NameServer ignores
// what it is sent. Each call is bounded by 5 s.
func Ask(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return "", err
	}
	hello, err := ClientHello()
	if err != nil {
		return "", err
	}
	if _, err := conn.Write(hello); err != nil {
		return "", err
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	out, err := io.ReadAll(conn)
	return string(out), err
}

// ClientHello returns the first TLS record a Go TLS client sends: its
// ClientHello, for a test client that must pass `req.ssl_hello_type 1`
// without speaking TLS any further.
func ClientHello() ([]byte, error) { return clientHello() }

var clientHello = sync.OnceValues(func() ([]byte, error) {
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		defer client.Close()
		_ = tls.Client(client, &tls.Config{ServerName: "hakgen.test", InsecureSkipVerify: true}).Handshake() // only its first record is read
	}()
	_ = server.SetDeadline(time.Now().Add(ioTimeout))
	header := make([]byte, 5) // type, version, length
	if _, err := io.ReadFull(server, header); err != nil {
		return nil, fmt.Errorf("haproxytest: making a ClientHello: %w", err)
	}
	record := make([]byte, 5+(int(header[3])<<8|int(header[4])))
	copy(record, header)
	if _, err := io.ReadFull(server, record[5:]); err != nil {
		return nil, fmt.Errorf("haproxytest: making a ClientHello: %w", err)
	}
	return record, nil
})

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a bind line of a test configuration. It is taken below the kernel's
// ephemeral range, so that no connection or listener of another process
// (other test packages run at the same time) is given it by the kernel in
// the moment between this check and HAProxy's bind, and it is never the
// same port twice in one test binary.
func FreePort(t testing.TB) int {
	t.Helper()
	low, high := freePortRange()
	for range maxPortTries {
		port := low + rand.IntN(high-low)
		if !claimPort(port) {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("haproxytest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // handed out by FreePort in this binary
)

func claimPort(port int) bool {
	portsMu.Lock()
	defer portsMu.Unlock()
	if ports[port] {
		return false
	}
	ports[port] = true
	return true
}

// freePortRange is where FreePort looks: from 10000 up to the start of
// the ephemeral range (net.ipv4.ip_local_port_range), 32768 when unknown.
func freePortRange() (low, high int) {
	high = 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				high = n
			}
		}
	}
	if high < 11000 {
		return 1024, 10000 // an unusual range: at least stay off the well-known ports
	}
	return 10000, high
}

// maxPortTries bounds the search for a port free on several addresses.
const maxPortTries = 50

// NameServersSamePort starts one NameServer per name, all on one port, on
// 127.0.0.2, 127.0.0.3, ... in order (the whole of 127.0.0.0/8 is loopback
// on Linux), as the servers of one backend share a backend port. It
// returns the port and the addresses; t.Cleanup stops the servers.
func NameServersSamePort(t testing.TB, names ...string) (int, []string) {
	t.Helper()
	port, lns := listenSamePort(t, len(names))
	var wg sync.WaitGroup
	addrs := make([]string, len(names))
	for i, ln := range lns {
		addrs[i] = ln.Addr().(*net.TCPAddr).IP.String()
		wg.Go(func() { ServeName(ln, names[i], &wg) })
	}
	t.Cleanup(func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
		wg.Wait()
	})
	return port, addrs
}

func listenSamePort(t testing.TB, n int) (int, []net.Listener) {
	t.Helper()
	for range maxPortTries {
		first, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Fatalf("haproxytest: listening: %v", err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for i := 1; i < n; i++ {
			ln, err := net.Listen("tcp", net.JoinHostPort(fmt.Sprintf("127.0.0.%d", i+2), strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == n {
			return port, lns
		}
		for _, ln := range lns {
			_ = ln.Close()
		}
	}
	t.Fatalf("haproxytest: no port free on %d loopback addresses after %d tries", n, maxPortTries)
	return 0, nil
}

// HoldServer starts a TCP server on a free loopback port that keeps every
// connection open, sending nothing, until the peer closes it (then it
// closes its side too) or the test ends: a long-lived stream, such as a
// watch. A connection through HAProxy to it keeps the worker that carries
// it alive after a reload. It returns the server's "127.0.0.1:port".
func HoldServer(t testing.TB) string {
	t.Helper()
	return holdServer(t, true)
}

// MuteServer is a HoldServer that never closes a connection before the
// test ends, not even when the peer has closed its side: a peer that has
// gone silent.
func MuteServer(t testing.TB) string {
	t.Helper()
	return holdServer(t, false)
}

func holdServer(t testing.TB, closeOnEOF bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("haproxytest: hold server: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			if closeOnEOF {
				wg.Go(func() {
					_, _ = io.Copy(io.Discard, conn) // until the peer closes, or cleanup closes conn
					_ = conn.Close()
				})
			}
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

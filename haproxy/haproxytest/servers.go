package haproxytest

import (
	"io"
	"net"
	"strconv"
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

// Ask connects to addr, sends a request line and returns everything the
// peer sends until it closes the connection (what a NameServer behind
// HAProxy answers). Each call is bounded by 5 s.
func Ask(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return "", err
	}
	// A request first, as an HTTP client sends one: the rendered ingress
	// HTTP frontend closes connections that send nothing.
	if _, err := io.WriteString(conn, askRequest); err != nil {
		return "", err
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	out, err := io.ReadAll(conn)
	return string(out), err
}

// askRequest is what Ask sends before it reads.
const askRequest = "GET / HTTP/1.0\r\n\r\n"

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a bind line of a test configuration.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("haproxytest: free port: %v", err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(port)
	return n
}

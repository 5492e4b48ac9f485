package haproxytest

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Verdict is what a GateProxy does with one connection.
type Verdict int

const (
	// Pass forwards the connection to the real socket.
	Pass Verdict = iota
	// Drop closes the connection without forwarding its command: the
	// client reads an empty answer, the master never sees the command.
	Drop
	// Hold keeps the connection open without forwarding or answering,
	// until the test ends: the client waits as on a hung master.
	Hold
)

// GateProxy is a master CLI socket in front of a real one that reads each
// connection's command line and asks a gate what to do with it: pass it
// through, drop it, or hold it. The gate runs in the proxy's goroutine,
// before anything is forwarded, so it may act on HAProxy first (reload it,
// say) or kill the client.
type GateProxy struct {
	Socket string // where clients connect

	target string
	gate   func(n int, command string) Verdict
	done   chan struct{} // closed when the test ends: held connections close
}

// StartGateProxy listens on a new socket in a private temporary directory
// and forwards to target what gate passes; n counts connections from 1, in
// accept order, and command is the line the client sent, without its
// newline. t.Cleanup closes the listener, releases held connections and
// waits for every connection; each one passed is bounded by 5 s.
func StartGateProxy(t testing.TB, target string, gate func(n int, command string) Verdict) *GateProxy {
	t.Helper()
	dir, err := os.MkdirTemp("", "haproxytest-gate-") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatalf("haproxytest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	p := &GateProxy{Socket: filepath.Join(dir, "gate.sock"), target: target, gate: gate, done: make(chan struct{})}
	ln, err := net.Listen("unix", p.Socket)
	if err != nil {
		t.Fatalf("haproxytest: gate proxy: %v", err)
	}
	var mu sync.Mutex // serializes gate calls, so n follows the order commands are judged
	var wg sync.WaitGroup
	n := 0
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			wg.Go(func() {
				defer conn.Close()
				cmd, err := bufio.NewReader(conn).ReadString('\n')
				if err != nil {
					return
				}
				mu.Lock()
				n++
				v := p.gate(n, cmd[:len(cmd)-1])
				mu.Unlock()
				p.serve(conn, cmd, v)
			})
		}
	})
	t.Cleanup(func() { _ = ln.Close(); close(p.done); wg.Wait() })
	return p
}

func (p *GateProxy) serve(conn net.Conn, cmd string, v Verdict) {
	switch v {
	case Drop:
		return
	case Hold:
		<-p.done
		return
	}
	up, err := net.DialTimeout("unix", p.target, ioTimeout)
	if err != nil {
		return
	}
	defer up.Close()
	_ = up.SetDeadline(time.Now().Add(ioTimeout))
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(up, cmd); err != nil {
		return
	}
	_ = up.(*net.UnixConn).CloseWrite() // a master CLI connection carries one line
	_, _ = io.Copy(conn, up)
}

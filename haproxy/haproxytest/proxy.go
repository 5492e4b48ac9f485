package haproxytest

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ResetProxy is a master CLI socket in front of a real one that passes
// every connection through, except the ones it is told to reset: those it
// closes after reading the first byte of the command, so the client's read
// fails with ECONNRESET (the rest of its command is left unread) and the
// master never sees the command.
type ResetProxy struct {
	Socket string // where clients connect

	target string
	reset  func(n int) bool // whether to reset the n-th connection (1-based)
	conns  atomic.Int64
	resets atomic.Int64
}

// StartResetProxy listens on a new socket in a private temporary directory
// and forwards to target, resetting each connection n (1-based, in accept
// order) for which reset(n) is true. t.Cleanup closes the listener and
// waits for the connections in flight; every connection is bounded by 5 s.
func StartResetProxy(t testing.TB, target string, reset func(n int) bool) *ResetProxy {
	t.Helper()
	dir, err := os.MkdirTemp("", "haproxytest-proxy-") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatalf("haproxytest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	p := &ResetProxy{Socket: filepath.Join(dir, "proxy.sock"), target: target, reset: reset}
	ln, err := net.Listen("unix", p.Socket)
	if err != nil {
		t.Fatalf("haproxytest: proxy: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			n := int(p.conns.Add(1))
			wg.Go(func() { p.serve(conn, n) })
		}
	})
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return p
}

// Conns is how many connections the proxy accepted.
func (p *ResetProxy) Conns() int { return int(p.conns.Load()) }

// Resets is how many connections the proxy reset.
func (p *ResetProxy) Resets() int { return int(p.resets.Load()) }

func (p *ResetProxy) serve(conn net.Conn, n int) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	if p.reset(n) {
		var b [1]byte
		_, _ = conn.Read(b[:])
		p.resets.Add(1)
		return // closing with unread data resets the client's side
	}
	up, err := net.DialTimeout("unix", p.target, ioTimeout)
	if err != nil {
		return
	}
	defer up.Close()
	_ = up.SetDeadline(time.Now().Add(ioTimeout))
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, conn)
		_ = up.(*net.UnixConn).CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(conn, up)
	_ = conn.(*net.UnixConn).CloseWrite()
	<-done
}

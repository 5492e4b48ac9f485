package main

import (
	"testing"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// serverTB lets hetznertest.New run outside a test: New only calls Helper
// and Cleanup, which serverTB implements; any other method of the embedded
// (nil) testing.TB would panic, and none is called.
type serverTB struct {
	testing.TB
	cleanups []func()
}

func (s *serverTB) Helper() {}

func (s *serverTB) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

// close runs the cleanups, last first, as the testing package does.
func (s *serverTB) close() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
}

// startFake starts the fake Hetzner API and metadata service; stop closes
// it.
func startFake() (f *hetznertest.Fake, stop func()) {
	tb := &serverTB{}
	return hetznertest.New(tb), tb.close
}

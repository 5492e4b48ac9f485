package render_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/internal/tooltest"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// benchSizes are the worker counts of the benchmarks, with 3 control
// planes each.
var benchSizes = []int{10, 100, 1000, 5000}

// benchState is 3 control planes and workers workers.
func benchState(b *testing.B, workers int) *state.State {
	b.Helper()
	cps := []state.Server{{Name: "cp1", Address: "10.0.0.11"}, {Name: "cp2", Address: "10.0.0.12"}, {Name: "cp3", Address: "10.0.0.13"}}
	ws := make([]state.Server, workers)
	for i := range ws {
		ws[i] = state.Server{Name: fmt.Sprintf("w%d", i+1), Address: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}
	}
	s, _, err := state.FromServers("bench", cps, ws)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRender renders 3 control planes with 10, 100, 1000 and 5000
// workers.
func BenchmarkRender(b *testing.B) {
	for _, workers := range benchSizes {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s := benchState(b, workers)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := render.HAProxy(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheck runs Debian's `haproxy -c` (with the service's flags, as
// the agent does before every install) on what BenchmarkRender renders:
// the other part of the time from an edit to an installed file.
func BenchmarkCheck(b *testing.B) {
	bin := tooltest.Need(b, "haproxy")
	for _, workers := range benchSizes {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cfg, err := render.HAProxy(benchState(b, workers))
			if err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(b.TempDir(), "haproxy.cfg")
			if err := os.WriteFile(path, cfg, 0o600); err != nil {
				b.Fatal(err)
			}
			path = withServerState(b, path, filepath.Dir(path))
			checker := haproxy.Checker{Bin: bin, Args: []string{"-S", filepath.Join(b.TempDir(), "master.sock")}}
			for b.Loop() {
				if _, err := checker.Check(context.Background(), path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

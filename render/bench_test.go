package render_test

import (
	"fmt"
	"testing"

	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// BenchmarkRender renders 3 control planes with 10, 100 and 1000 workers.
func BenchmarkRender(b *testing.B) {
	for _, workers := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cps := []state.Server{{Name: "cp1", Address: "10.0.0.11"}, {Name: "cp2", Address: "10.0.0.12"}, {Name: "cp3", Address: "10.0.0.13"}}
			ws := make([]state.Server, workers)
			for i := range ws {
				ws[i] = state.Server{Name: fmt.Sprintf("w%d", i+1), Address: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}
			}
			s, _, err := state.FromServers("bench", cps, ws)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := render.HAProxy(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

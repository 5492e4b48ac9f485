package atomicfile_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hakgen/hakgen/internal/atomicfile"
)

// TestLeftovers finds a staged file that was never committed, and only it.
func TestLeftovers(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "haproxy.cfg")
	for _, name := range []string{"haproxy.cfg", "other.cfg", ".other.cfg.hakgen-1.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := atomicfile.Stage(target, []byte("new"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	got, err := atomicfile.Leftovers(target)
	if err != nil || !slices.Equal(got, []string{st.Path()}) {
		t.Fatalf("Leftovers = %v, %v; want [%s]", got, err, st.Path())
	}
	if err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, err := atomicfile.Leftovers(target); err != nil || len(got) != 0 {
		t.Fatalf("after Commit Leftovers = %v, %v; want none", got, err)
	}
}

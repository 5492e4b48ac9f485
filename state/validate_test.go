package state_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/state"
)

// TestInvalidFixtures parses every testdata/invalid file and expects exactly
// the errors its "# want:" lines name, with line, column and field.
func TestInvalidFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := wantLines(data, "# want: ")
			if len(want) == 0 {
				t.Fatal("fixture has no # want: line")
			}
			s, _, err := state.Parse("state.yaml", data)
			if err == nil {
				t.Fatalf("parsed without error, want:\n%s", strings.Join(want, "\n"))
			}
			if s != nil {
				t.Error("an invalid state must not be returned")
			}
			if got := strings.Split(err.Error(), "\n"); !equal(got, want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func wantLines(data []byte, prefix string) []string {
	var want []string
	for _, line := range strings.Split(string(data), "\n") {
		if w, ok := strings.CutPrefix(line, prefix); ok {
			want = append(want, w)
		}
	}
	return want
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

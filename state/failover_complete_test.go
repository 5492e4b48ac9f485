package state_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/state"
)

// TestIncompleteFixtures loads every testdata/incomplete file, a valid
// state, and expects exactly the errors its "# notify:" and
// "# keepalived:" lines name ("ok" for none) from the two checks.
func TestIncompleteFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/incomplete/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("want at least 4 fixtures, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s, _, err := state.Parse("state.yaml", data)
			if err != nil {
				t.Fatalf("the fixture must be a valid state: %v", err)
			}
			for _, c := range []struct {
				prefix string
				check  func() error
			}{{"# notify: ", s.CompleteForNotify}, {"# keepalived: ", s.CompleteForKeepalived}} {
				want := wantLines(data, c.prefix)
				if len(want) == 0 {
					t.Fatalf("fixture has no %q line", c.prefix)
				}
				var got []string
				if err := c.check(); err != nil {
					got = strings.Split(err.Error(), "\n")
				}
				if len(want) == 1 && want[0] == "ok" {
					want = nil
				}
				if !equal(got, want) {
					t.Errorf("%s errors:\n%s\nwant:\n%s", strings.TrimSpace(c.prefix), strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

func TestExampleIsCompleteForFailover(t *testing.T) {
	s, _, err := state.Parse(state.ExampleName, state.Example)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteForNotify(); err != nil {
		t.Errorf("CompleteForNotify: %v", err)
	}
	if err := s.CompleteForKeepalived(); err != nil {
		t.Errorf("CompleteForKeepalived: %v", err)
	}
}

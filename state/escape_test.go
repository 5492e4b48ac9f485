package state_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/state"
)

// TestErrorsAreBounded: 20 000 bad control planes (under the 1 MiB limit)
// give an error of the first MaxReported problems and a count of the rest,
// not 20 000 lines.
func TestErrorsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("controlPlanes:\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "  - {name: CP%d, address: 10.%d.%d.1}\n", i, i/256, i%256)
	}
	if b.Len() > state.MaxFileSize {
		t.Fatalf("the file is %d bytes, over the limit", b.Len())
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "state.yaml")
	writeFile(t, path, b.String(), 0o644)
	_, _, err := state.Load(path)
	if err == nil {
		t.Fatal("loaded without error")
	}
	lines := strings.Split(err.Error(), "\n")
	wantFirst := path + `:2:12: controlPlanes[0].name: "CP0" is not a lowercase DNS label (expected 1-63 characters a-z, 0-9 and '-', starting and ending with a letter or digit)`
	wantLast := path + ": …and 19980 more problems (the first ones often cause the rest)"
	if len(lines) != state.MaxReported+1 || lines[0] != wantFirst || lines[len(lines)-1] != wantLast {
		t.Errorf("%d lines, first %q, last %q; want %d lines, first %q, last %q",
			len(lines), lines[0], lines[len(lines)-1], state.MaxReported+1, wantFirst, wantLast)
	}
	if n := len(err.Error()); n > 8<<10 {
		t.Errorf("the error is %d bytes", n)
	}
}

package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
)

// Leftovers returns the staged files beside target that Stage created and
// nobody committed or discarded: a process killed between Stage and
// Commit leaves them. They are hidden and do not end in target's
// extension, so nothing loads them; a long-running owner of target removes
// them when it starts.
func Leftovers(target string) ([]string, error) {
	resolved, err := resolve(target)
	if err != nil {
		resolved = target // nothing Stage would stage for: look beside the path itself
	}
	dir, base := filepath.Split(resolved)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	prefix := "." + base + ".hakgen-"
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

package state

import "path/filepath"

// Resolve returns a path the state names (a secret file, say) as it is
// opened: a relative path is taken from the state file's directory.
func (s *State) Resolve(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(s.dir, path)
}

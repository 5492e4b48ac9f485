package state

import (
	"path/filepath"
	"strings"
)

// failoverSections are the parts of the state a failover needs.
var failoverSections = []string{"loadBalancers", "floatingIP", "keepalived"}

// LoadForFailover reads the state file for `hakgen-agent notify` and the
// Floating IP healer. A failover must not wait for an unrelated mistake to
// be fixed: problems outside loadBalancers, floatingIP and keepalived (a
// mistyped worker address, a stats password file with the wrong mode) are
// ignored here, while the daemon keeps serving the last good haproxy.cfg
// and reports them. The file must still be YAML, and the failover sections
// themselves must be valid. Secrets are not read.
func LoadForFailover(path string) (*State, error) {
	data, err := readLimited(path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	s := Defaults()
	s.file, s.dir, s.pos = path, filepath.Dir(path), map[string]Pos{}
	decoding, ok := s.decode(data)
	if !ok {
		return nil, decoding.Err()
	}
	s.fillDefaults()
	var mine Problems
	for _, p := range mergeProblems(decoding, s.Validate()) {
		if inFailoverSection(p.Path) {
			mine = append(mine, p)
		}
	}
	if err := mine.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

func inFailoverSection(path string) bool {
	for _, sec := range failoverSections {
		if path == sec || strings.HasPrefix(path, sec+".") || strings.HasPrefix(path, sec+"[") {
			return true
		}
	}
	return false
}

package state

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// failoverSections are the parts of the state a failover needs.
var failoverSections = []string{"loadBalancers", "floatingIP", "floatingIPs", "privateVIP", "hcloud", "keepalived"}

// LoadForFailover reads the state file for `hakgen-agent notify` and the
// Floating IP healer. A failover must not wait for an unrelated mistake to
// be fixed: problems outside loadBalancers, floatingIP, floatingIPs,
// privateVIP, hcloud and keepalived (a mistyped worker address, a stats
// password file with the wrong mode) are ignored here, while the daemon
// keeps serving the last good haproxy.cfg and reports them. The file must still be YAML, and the failover sections
// themselves must be valid. Secrets are not read.
//
// The read is bounded as LoadContext's is: by DefaultReadTimeout here, by
// ctx's deadline in LoadForFailoverContext.
func LoadForFailover(path string) (*State, error) {
	return LoadForFailoverContext(context.Background(), path)
}

// LoadForFailoverContext is LoadForFailover with ctx's deadline bounding
// the read (DefaultReadTimeout when ctx has none). A caller that takes a
// lock afterwards (notify's assign lock) reads first, so a file that
// cannot be read never holds the lock.
func LoadForFailoverContext(ctx context.Context, path string) (*State, error) {
	ctx, cancel := readContext(ctx)
	defer cancel()
	data, err := readBounded(ctx, path, func() ([]byte, error) { return readLimited(path, MaxFileSize) })
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
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

package haproxy

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseServerSessions reads the current sessions of each server of
// backend (column scur, by server name) from a worker's answer to `show
// stat`, e.g. `show stat ID 4 -1`, the CSV of one backend's servers. Lines
// of other proxies, and FRONTEND and BACKEND lines, are skipped. Any other
// answer ("No such proxy.") is an error quoting it.
func ParseServerSessions(out, backend string) (map[string]int, error) {
	all, err := ParseSessions(out)
	if err != nil {
		return nil, err
	}
	if s, ok := all[backend]; ok {
		return s, nil
	}
	return map[string]int{}, nil
}

// ParseSessions reads the current sessions of every server (column scur)
// from a worker's answer to `show stat`, e.g. `show stat -1 4 -1` (the
// servers of every proxy), by proxy and server name. FRONTEND and BACKEND
// lines are skipped. Any other answer is an error quoting it.
func ParseSessions(out string) (map[string]map[string]int, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# pxname,") {
		return nil, fmt.Errorf("parsing show stat: want a \"# pxname,...\" header, got %q", firstLine(out))
	}
	header := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	pxname, svname, scur := -1, -1, -1
	for i, name := range header {
		switch name {
		case "pxname":
			pxname = i
		case "svname":
			svname = i
		case "scur":
			scur = i
		}
	}
	if pxname < 0 || svname < 0 || scur < 0 {
		return nil, fmt.Errorf("parsing show stat: no pxname, svname or scur column in %q", lines[0])
	}
	sessions := map[string]map[string]int{}
	for i, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) <= max(pxname, svname, scur) {
			return nil, fmt.Errorf("parsing show stat line %d %q: %d fields", i+2, line, len(f))
		}
		if f[svname] == "FRONTEND" || f[svname] == "BACKEND" {
			continue
		}
		n, err := strconv.Atoi(f[scur])
		if err != nil {
			return nil, fmt.Errorf("parsing show stat line %d %q: scur: %w", i+2, line, err)
		}
		if sessions[f[pxname]] == nil {
			sessions[f[pxname]] = map[string]int{}
		}
		sessions[f[pxname]][f[svname]] = n
	}
	return sessions, nil
}

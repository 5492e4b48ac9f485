package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// journalTail is how many lines of each node's journal a failed test logs.
const journalTail = 400

func (l *Lab) logJournals() {
	for _, lb := range l.LBs {
		entries := lb.Journal.Entries(time.Time{}, "")
		if len(entries) > journalTail {
			entries = entries[len(entries)-journalTail:]
		}
		var b strings.Builder
		for _, e := range entries {
			b.WriteString(e.String())
			b.WriteByte('\n')
		}
		l.tb.Logf("journal of %s (last %d lines):\n%s", lb.Name, len(entries), b.String())
	}
	l.tb.Logf("requests to the fake Hetzner API:\n%s", l.apiLog())
	l.tb.Logf("routes of the Floating IP:\n%s", l.routeLog())
}

// saveJournals writes every node's journal, the fake API's requests and
// the Floating IP's routes into dir.
func (l *Lab) saveJournals(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]string{"api.log": l.apiLog(), "route.log": l.routeLog()}
	for _, n := range append([]*Node{l.Internet, l.Private, l.Backends}, l.lbNodes()...) {
		if n != nil {
			files[n.Name+".log"] = n.Journal.String()
		}
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) lbNodes() []*Node {
	var out []*Node
	for _, lb := range l.LBs {
		out = append(out, lb.Node)
	}
	return out
}

func (l *Lab) apiLog() string {
	if l.API == nil {
		return ""
	}
	var b strings.Builder
	for _, r := range l.API.Requests() {
		fmt.Fprintf(&b, "%s %s %s -> %d\n", r.Time.Format("15:04:05.000"), r.Remote, r, r.Status)
	}
	return b.String()
}

func (l *Lab) routeLog() string {
	var b strings.Builder
	for _, m := range l.Moves() {
		b.WriteString(m.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// safeName turns a test's name into a directory name.
func safeName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '#' || r == ' ' {
			return '_'
		}
		return r
	}, name)
}

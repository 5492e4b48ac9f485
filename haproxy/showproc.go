package haproxy

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Proc is one line of the master's `show proc`.
type Proc struct {
	PID  int
	Type string // "master", "worker", or the name of a program section
	// RelativePID is the "<relative PID>" column of HAProxy before 2.5; 0
	// when the column is absent (2.5 and later: there is one worker).
	RelativePID int
	// Reloads is, on the master line, how many reloads the master has
	// performed (failed ones included); on a worker line, how many reloads
	// that worker has lived through.
	Reloads int
	// FailedReloads is the master's "[failed: N]" marker: reloads that failed
	// since the last successful one (HAProxy 2.6 resets it to 0 on success).
	// Always 0 on other lines.
	FailedReloads int
	// Uptime is 0 when HAProxy printed it in an unknown format.
	Uptime  time.Duration
	Version string // "-" for programs
}

// Procs is the parsed answer to `show proc`.
type Procs struct {
	Master      Proc
	Workers     []Proc // current workers: one on HAProxy 2.5 and later
	OldWorkers  []Proc // workers left by earlier reloads, still draining connections
	Programs    []Proc
	OldPrograms []Proc
}

// Current returns the current worker, the one `@1` addresses.
func (p Procs) Current() (Proc, bool) {
	if len(p.Workers) == 0 {
		return Proc{}, false
	}
	return p.Workers[0], true
}

// ShowProc asks the master for `show proc` and parses the answer.
func (m *Master) ShowProc(ctx context.Context) (Procs, error) {
	out, err := m.Command(ctx, "show proc")
	if err != nil {
		return Procs{}, err
	}
	procs, err := ParseShowProc(out)
	if err != nil {
		return Procs{}, fmt.Errorf("master cli %s: %w", m.socket(), err)
	}
	return procs, nil
}

var (
	headerColumn = regexp.MustCompile(`<([^>]+)>`)
	failedMarker = regexp.MustCompile(`\s\[failed: (\d+)\]`)
	uptimeFormat = regexp.MustCompile(`^(\d+)d(\d+)h(\d+)m(\d+)s$`)
)

// ParseShowProc parses the master's answer to `show proc` (HAProxy 2.0 to
// 3.x): a "#<PID> <type> ..." header naming the columns, the master line,
// then the sections "# workers", "# old workers", "# programs" and
// "# old programs". Lines of sections it does not know are skipped.
func ParseShowProc(out string) (Procs, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "#<PID>") {
		return Procs{}, fmt.Errorf("parsing show proc: no \"#<PID>\" header in %q", firstLine(out))
	}
	columns := headerColumns(lines[0])
	var procs Procs
	var dest *[]Proc
	var masters []Proc
	dest = &masters
	for i, line := range lines[1:] {
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "#"):
			dest = procs.section(strings.TrimSpace(strings.TrimPrefix(line, "#")))
			continue
		case dest == nil:
			continue
		}
		p, err := parseProcLine(columns, line)
		if err != nil {
			return Procs{}, fmt.Errorf("parsing show proc line %d: %w", i+2, err)
		}
		*dest = append(*dest, p)
	}
	if len(masters) != 1 || masters[0].Type != "master" {
		return Procs{}, fmt.Errorf("parsing show proc: want one master line before \"# workers\", got %d", len(masters))
	}
	procs.Master = masters[0]
	return procs, nil
}

// section returns where the lines of a named section go, nil to skip them.
func (p *Procs) section(name string) *[]Proc {
	switch name {
	case "workers":
		return &p.Workers
	case "old workers":
		return &p.OldWorkers
	case "programs":
		return &p.Programs
	case "old programs":
		return &p.OldPrograms
	}
	return nil
}

func headerColumns(header string) []string {
	var cols []string
	for _, m := range headerColumn.FindAllStringSubmatch(header, -1) {
		cols = append(cols, m[1])
	}
	return cols
}

func parseProcLine(columns []string, line string) (Proc, error) {
	var p Proc
	if m := failedMarker.FindStringSubmatchIndex(line); m != nil {
		p.FailedReloads, _ = strconv.Atoi(line[m[2]:m[3]])
		line = line[:m[0]] + line[m[1]:]
	}
	fields := strings.Fields(line)
	if len(fields) != len(columns) {
		return Proc{}, fmt.Errorf("%q: %d fields for %d columns %q", line, len(fields), len(columns), columns)
	}
	for i, col := range columns {
		if err := p.set(col, fields[i]); err != nil {
			return Proc{}, fmt.Errorf("%q: column %s: %w", line, col, err)
		}
	}
	if p.PID <= 0 || p.Type == "" {
		return Proc{}, fmt.Errorf("%q: no PID or type", line)
	}
	return p, nil
}

// set stores one field; columns it does not know are ignored.
func (p *Proc) set(col, v string) error {
	var err error
	switch col {
	case "PID":
		p.PID, err = strconv.Atoi(v)
	case "type":
		p.Type = v
	case "relative PID":
		p.RelativePID, err = strconv.Atoi(v)
	case "reloads":
		p.Reloads, err = strconv.Atoi(v)
	case "uptime":
		p.Uptime = parseUptime(v)
	case "version":
		p.Version = v
	}
	return err
}

// parseUptime reads HAProxy's "1d02h03m04s"; 0 when the format differs.
func parseUptime(s string) time.Duration {
	m := uptimeFormat.FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	var n [4]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return time.Duration(n[0])*24*time.Hour + time.Duration(n[1])*time.Hour +
		time.Duration(n[2])*time.Minute + time.Duration(n[3])*time.Second
}

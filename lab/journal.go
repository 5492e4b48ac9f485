package lab

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// maxJournal bounds a node's journal; the oldest entries go first.
const maxJournal = 100_000

// Entry is one line a node's process printed or logged.
type Entry struct {
	Time   time.Time // when the lab received it
	Source string    // the process (as started) or the syslog identifier
	Text   string
}

func (e Entry) String() string {
	return fmt.Sprintf("%s %s: %s", e.Time.Format("15:04:05.000"), e.Source, e.Text)
}

// Journal is a node's timeline of log lines, from its processes' output
// and from its /dev/log. It is safe for concurrent use.
type Journal struct {
	mu      sync.Mutex
	entries []Entry
	changed chan struct{} // closed and replaced on every Add
}

func newJournal() *Journal { return &Journal{changed: make(chan struct{})} }

// Add appends one line.
func (j *Journal) Add(source, text string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.entries) >= maxJournal {
		j.entries = j.entries[len(j.entries)-maxJournal/2:]
	}
	j.entries = append(j.entries, Entry{Time: time.Now(), Source: source, Text: text})
	close(j.changed)
	j.changed = make(chan struct{})
}

// Entries returns the entries from since on whose source starts with
// source ("" for all).
func (j *Journal) Entries(since time.Time, source string) []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Entry
	for _, e := range j.entries {
		if !e.Time.Before(since) && strings.HasPrefix(e.Source, source) {
			out = append(out, e)
		}
	}
	return out
}

// Find returns the first entry from since on, of a source starting with
// source, whose text matches re.
func (j *Journal) Find(since time.Time, source string, re *regexp.Regexp) (Entry, bool) {
	for _, e := range j.Entries(since, source) {
		if re.MatchString(e.Text) {
			return e, true
		}
	}
	return Entry{}, false
}

// Wait waits until Find finds an entry, or ctx ends.
func (j *Journal) Wait(ctx context.Context, since time.Time, source string, re *regexp.Regexp) (Entry, error) {
	for {
		j.mu.Lock()
		changed := j.changed
		j.mu.Unlock()
		if e, ok := j.Find(since, source, re); ok {
			return e, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Entry{}, fmt.Errorf("no %s line matching %q: %w", source, re, ctx.Err())
		}
	}
}

// String is the whole journal, one entry a line.
func (j *Journal) String() string {
	var b strings.Builder
	for _, e := range j.Entries(time.Time{}, "") {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Writer returns a writer that adds every line written to it under source.
func (j *Journal) Writer(source string) *lineWriter { return &lineWriter{j: j, source: source} }

// lineWriter splits what is written into lines for a Journal.
type lineWriter struct {
	j      *Journal
	source string
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.j.Add(w.source, strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a line without end: keep what there is
		w.j.Add(w.source, string(w.buf))
		w.buf = nil
	}
	return len(p), nil
}

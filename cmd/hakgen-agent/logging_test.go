package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func testLogger(t *testing.T, args ...string) (*bytes.Buffer, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := addLogFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log, err := newLogger(f, &buf)
	if err == nil {
		log.Named("agent").Info("applied", zap.String("hash", "abc"))
		log.Debug("hidden at the default level")
	}
	return &buf, err
}

func TestLoggerFormats(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "")
	buf, err := testLogger(t)
	if err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if !strings.Contains(line, "\tINFO\tagent\tapplied\t{\"hash\": \"abc\"}\n") || strings.Contains(line, "\x1b[") || strings.Contains(line, "hidden") {
		t.Errorf("console line %q: want plain INFO, the component and fields, no colour off a terminal", line)
	}

	buf, err = testLogger(t, "--log-format", "json", "--log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var entry map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &entry) != nil {
		t.Fatalf("json output %q: want two JSON lines", buf)
	}
	if entry["level"] != "info" || entry["logger"] != "agent" || entry["msg"] != "applied" || entry["hash"] != "abc" || entry["ts"] == nil {
		t.Errorf("json entry %v", entry)
	}

	if _, err := testLogger(t, "--log-level", "loud"); err == nil {
		t.Error("an unknown level was accepted")
	}
}

// Under systemd's journal the console format leaves out the time: the
// journal stamps every line.
func TestLoggerUnderJournal(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "8:12345")
	buf, err := testLogger(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); !strings.HasPrefix(got, "INFO\tagent\tapplied") {
		t.Errorf("journal line %q, want it to start with the level", got)
	}
}

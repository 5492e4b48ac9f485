package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
)

func testLogger(t *testing.T, args ...string) (*bytes.Buffer, error) {
	t.Helper()
	var o logOptions
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log, err := newLogger(o, &buf)
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

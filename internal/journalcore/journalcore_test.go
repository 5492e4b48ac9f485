package journalcore

import (
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

type sent struct {
	msg    string
	pri    journal.Priority
	fields map[string]string
}

// TestEntriesCarryTheirPriority: each level reaches the journal with its
// own priority and the identifier, and below the enabled level nothing.
func TestEntriesCarryTheirPriority(t *testing.T) {
	var got []sent
	send := func(msg string, pri journal.Priority, fields map[string]string) error {
		got = append(got, sent{msg, pri, fields})
		return nil
	}
	log := zap.New(NewWithSend("hakgen-notify", zapcore.InfoLevel, nil, send)).Named("notify")
	log.Debug("hidden")
	log.Info("recorded", zap.String("state", "MASTER"))
	log.Warn("slow")
	log.With(zap.Int("try", 2)).Error("failed")
	want := []struct {
		pri journal.Priority
		msg string
	}{{journal.PriInfo, `notify recorded {"state": "MASTER"}`}, {journal.PriWarning, "notify slow"}, {journal.PriErr, `notify failed {"try": 2}`}}
	if len(got) != len(want) {
		t.Fatalf("sent %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].pri != w.pri || got[i].msg != w.msg {
			t.Errorf("entry %d: priority %d %q, want %d %q", i, got[i].pri, got[i].msg, w.pri, w.msg)
		}
		if got[i].fields["SYSLOG_IDENTIFIER"] != "hakgen-notify" || strings.Contains(got[i].msg, "\n") {
			t.Errorf("entry %d: fields %v, message %q", i, got[i].fields, got[i].msg)
		}
	}
}

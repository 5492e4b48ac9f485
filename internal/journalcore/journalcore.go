// Package journalcore is a zap core that sends each log entry to systemd's
// journal through its native protocol (go-systemd's journal package), with
// the entry's level as the journal priority, so that `journalctl -p
// warning` shows exactly the warnings and errors.
//
// The daemon uses it when its stderr is the journal (JOURNAL_STREAM), where
// plain lines would all get priority info; keepalived's notify runs use it
// always, under an identifier of their own, because keepalived discards
// their output.
package journalcore

import (
	"fmt"
	"os"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap/zapcore"
)

// SendFunc sends one entry to the journal: journal.Send in production.
type SendFunc func(message string, priority journal.Priority, fields map[string]string) error

// Enabled reports whether the journal's socket can be reached.
func Enabled() bool { return journal.Enabled() }

// StderrIsJournal reports whether this process's stderr is connected to
// the journal (systemd set JOURNAL_STREAM for it).
func StderrIsJournal() bool {
	ok, err := journal.StderrIsJournalStream()
	return err == nil && ok
}

type core struct {
	zapcore.LevelEnabler
	enc    zapcore.Encoder
	fields map[string]string
	send   SendFunc
}

// New returns a core sending the entries enab lets through to the journal
// under the identifier (SYSLOG_IDENTIFIER, what `journalctl -t` matches).
// enc encodes each entry into its message; nil is ConsoleEncoder. The
// journal adds time and priority.
func New(identifier string, enab zapcore.LevelEnabler, enc zapcore.Encoder) zapcore.Core {
	return NewWithSend(identifier, enab, enc, journal.Send)
}

// ConsoleEncoder writes the logger's name, the message and the fields as
// JSON, without time or level, which the journal records itself.
func ConsoleEncoder() zapcore.Encoder {
	return zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		NameKey:          "logger",
		MessageKey:       "msg",
		ConsoleSeparator: " ",
		EncodeDuration:   zapcore.StringDurationEncoder,
		EncodeTime:       zapcore.ISO8601TimeEncoder,
		EncodeName:       zapcore.FullNameEncoder,
	})
}

// NewWithSend is New with the function that sends to the journal.
func NewWithSend(identifier string, enab zapcore.LevelEnabler, enc zapcore.Encoder, send SendFunc) zapcore.Core {
	if enc == nil {
		enc = ConsoleEncoder()
	}
	fields := map[string]string{
		"SYSLOG_IDENTIFIER": identifier,
		"SYSLOG_PID":        fmt.Sprint(os.Getpid()),
	}
	return &core{LevelEnabler: enab, enc: enc, fields: fields, send: send}
}

func (c *core) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &core{LevelEnabler: c.LevelEnabler, enc: enc, fields: c.fields, send: c.send}
}

func (c *core) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *core) Write(e zapcore.Entry, fields []zapcore.Field) error {
	buf, err := c.enc.EncodeEntry(e, fields)
	if err != nil {
		return err
	}
	defer buf.Free()
	msg := buf.String()
	for len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	return c.send(msg, Priority(e.Level), c.fields)
}

func (c *core) Sync() error { return nil }

// Priority maps a zap level to a journal (syslog) priority.
func Priority(l zapcore.Level) journal.Priority {
	switch {
	case l <= zapcore.DebugLevel:
		return journal.PriDebug
	case l == zapcore.InfoLevel:
		return journal.PriInfo
	case l == zapcore.WarnLevel:
		return journal.PriWarning
	case l == zapcore.ErrorLevel:
		return journal.PriErr
	}
	return journal.PriCrit
}

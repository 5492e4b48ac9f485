package main

import (
	"io"
	"os"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hakgen/hakgen/internal/journalcore"
)

// Log formats of the long-running commands.
const (
	logConsole = "console" // one human-readable line per entry
	logJSON    = "json"    // one JSON object per line, for log shippers
)

// Journal identifiers: `journalctl -t hakgen-notify` is the failover
// history, notify runs alone; the daemon's lines are under hakgen-agent.
const (
	agentIdentifier  = "hakgen-agent"
	notifyIdentifier = "hakgen-notify"
)

// logOptions are the logging flags of a long-running command.
type logOptions struct{ format, level string }

func (o *logOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "log-format", logConsole, "log `FORMAT`: console (human-readable) or json")
	fs.StringVar(&o.level, "log-level", "info", "minimum log `LEVEL`: debug, info, warn or error")
}

// newLogger builds the one logger a command passes down; components name
// themselves with Named. Entries go to w (stderr), except when w is this
// process's stderr and that is the journal (systemd's JOURNAL_STREAM):
// then they are sent to the journal with their level as priority, which
// plain lines on stderr would not carry. The console format colours
// levels on a terminal.
func newLogger(o logOptions, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(o.level)
	if err != nil {
		return nil, usageErr("--log-level: %v", err)
	}
	enc, err := newEncoder(o.format, w)
	if err != nil {
		return nil, err
	}
	if w == os.Stderr && journalcore.StderrIsJournal() {
		return zap.New(journalcore.New(agentIdentifier, level, journalEncoder(o.format))), nil
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)), nil
}

func newEncoder(format string, w io.Writer) (zapcore.Encoder, error) {
	cfg := zapcore.EncoderConfig{
		TimeKey: "ts", LevelKey: "level", NameKey: "logger", MessageKey: "msg",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeTime:     zapcore.ISO8601TimeEncoder,
		EncodeLevel:    zapcore.CapitalLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeName:     zapcore.FullNameEncoder,
	}
	switch format {
	case logJSON:
		cfg.EncodeLevel, cfg.EncodeTime = zapcore.LowercaseLevelEncoder, zapcore.RFC3339NanoTimeEncoder
		return zapcore.NewJSONEncoder(cfg), nil
	case logConsole:
		if isTerminal(w) {
			cfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		return zapcore.NewConsoleEncoder(cfg), nil
	}
	return nil, usageErr("--log-format %q: want %s or %s", format, logConsole, logJSON)
}

// journalEncoder encodes a journal entry's message: as on the console but
// without time and level (the journal has both), or JSON.
func journalEncoder(format string) zapcore.Encoder {
	if format == logJSON {
		return zapcore.NewJSONEncoder(zapcore.EncoderConfig{
			NameKey: "logger", MessageKey: "msg", EncodeDuration: zapcore.StringDurationEncoder, EncodeName: zapcore.FullNameEncoder,
		})
	}
	return journalcore.ConsoleEncoder()
}

// isTerminal reports whether w is a character device, i.e. a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

package main

import (
	"flag"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Log formats of the long-running commands.
const (
	logConsole = "console" // one human-readable line per entry
	logJSON    = "json"    // one JSON object per line, for log shippers
)

// logFlags are the logging flags of a long-running command.
type logFlags struct{ format, level *string }

func addLogFlags(fs *flag.FlagSet) logFlags {
	return logFlags{
		format: fs.String("log-format", logConsole, "log `FORMAT`: console (human-readable) or json"),
		level:  fs.String("log-level", "info", "minimum log `LEVEL`: debug, info, warn or error"),
	}
}

// newLogger builds the one logger a command passes down; components name
// themselves with Named. Entries go to w (stderr). The console format
// colours levels on a terminal, and leaves out the time under systemd's
// journal (JOURNAL_STREAM set), which stamps every line itself.
func newLogger(f logFlags, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(*f.level)
	if err != nil {
		return nil, usageErr("--log-level: %v", err)
	}
	cfg := zapcore.EncoderConfig{
		TimeKey: "ts", LevelKey: "level", NameKey: "logger", MessageKey: "msg",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeTime:     zapcore.ISO8601TimeEncoder,
		EncodeLevel:    zapcore.CapitalLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeName:     zapcore.FullNameEncoder,
	}
	var enc zapcore.Encoder
	switch *f.format {
	case logJSON:
		cfg.EncodeLevel, cfg.EncodeTime = zapcore.LowercaseLevelEncoder, zapcore.RFC3339NanoTimeEncoder
		enc = zapcore.NewJSONEncoder(cfg)
	case logConsole:
		if isTerminal(w) {
			cfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		} else if os.Getenv("JOURNAL_STREAM") != "" {
			cfg.TimeKey = ""
		}
		enc = zapcore.NewConsoleEncoder(cfg)
	default:
		return nil, usageErr("--log-format %q: want %s or %s", *f.format, logConsole, logJSON)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)), nil
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

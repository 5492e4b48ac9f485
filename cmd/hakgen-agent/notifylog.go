package main

import (
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hakgen/hakgen/internal/syslogcore"
)

// syslogTag identifies the agent's lines in syslog and the journal.
const syslogTag = "hakgen-agent"

// notifyLogger is where a notify run logs: all goes to syslog (when its
// socket is there) and to stderr; syslogOnly to syslog alone, for the
// final error that the command also prints to stderr. Without a syslog
// socket, syslogOnly discards.
type notifyLogger struct {
	all, syslogOnly *zap.Logger
	close           func()
}

// newNotifyLogger logs to the syslog socket (none when socket is empty)
// and to stderr, in the console format of the other commands. A socket
// that cannot be reached is not an error: the run must go on, and stderr
// is all there is then.
func newNotifyLogger(socket string, stderr io.Writer) (notifyLogger, error) {
	format, level := logConsole, "info"
	toStderr, err := newLogger(logFlags{format: &format, level: &level}, stderr)
	if err != nil {
		return notifyLogger{}, err
	}
	l := notifyLogger{all: toStderr, syslogOnly: zap.NewNop(), close: func() {}}
	if socket == "" {
		return l, nil
	}
	w, err := syslogcore.Dial(socket, syslogTag)
	if err != nil {
		l.all.Warn("logging to stderr only", zap.String("syslog", socket), zap.Error(err))
		return l, nil
	}
	sys := syslogcore.NewCore(w, zapcore.InfoLevel)
	l.all = zap.New(zapcore.NewTee(sys, toStderr.Core()))
	l.syslogOnly = zap.New(sys)
	l.close = func() { _ = w.Close() }
	return l, nil
}

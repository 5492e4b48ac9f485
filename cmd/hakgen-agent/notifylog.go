package main

import (
	"os"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hakgen/hakgen/internal/journalcore"
)

// notifyLogger is where a notify run logs: all goes to the journal (when
// it runs) under notifyIdentifier and to stderr; journalOnly to the
// journal alone, for the final error that the command also prints to
// stderr. Without a journal, journalOnly discards.
type notifyLogger struct {
	all, journalOnly *zap.Logger
}

// newNotifyLogger logs to the journal, when toJournal and the journal's
// socket is there (or e.journal is set), and to stderr in the console
// format of the other commands. A journal that cannot be reached is not an
// error: the run must go on, and stderr is all there is then.
func newNotifyLogger(toJournal bool, e *env) (notifyLogger, error) {
	stderr := e.stderr
	toStderr, err := newLogger(logOptions{format: logConsole, level: "info"}, stderr)
	if err != nil {
		return notifyLogger{}, err
	}
	l := notifyLogger{all: toStderr, journalOnly: zap.NewNop()}
	send := e.journal
	if send == nil && toJournal && journalcore.Enabled() {
		send = journal.Send
	}
	if !toJournal || send == nil {
		return l, nil
	}
	j := journalcore.NewWithSend(notifyIdentifier, zapcore.InfoLevel, nil, send)
	l.all = zap.New(zapcore.NewTee(j, toStderr.Core()))
	if stderr == os.Stderr && journalcore.StderrIsJournal() {
		l.all = zap.New(j) // stderr is the journal already
	}
	l.journalOnly = zap.New(j)
	return l, nil
}

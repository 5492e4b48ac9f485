// Package syslogcore is a zap core that sends each log entry as one
// syslog datagram to the local socket, /dev/log. On systemd machines that
// socket belongs to journald, so the entries land in the journal with
// their priority and identifier (journalctl -t hakgen-agent).
//
// It exists for processes whose output nobody reads, such as keepalived's
// notify scripts (keepalived sends their stdout and stderr to /dev/null).
// The message format is the one glibc's syslog(3) writes to a local
// socket: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG", without a hostname, which
// journald and rsyslog parse. log/syslog writes that format only to the
// fixed socket paths it probes, so this package writes it itself and can
// be pointed at any socket.
package syslogcore

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// DefaultSocket is the local syslog socket.
const DefaultSocket = "/dev/log"

// facilityDaemon is syslog's LOG_DAEMON, shifted into place.
const facilityDaemon = 3 << 3

// Writer sends syslog messages to a unix datagram socket. It is safe for
// concurrent use.
type Writer struct {
	path string
	tag  string
	pid  int

	mu   sync.Mutex
	conn net.Conn
}

// Dial connects to the syslog socket at path (DefaultSocket when empty).
// tag is the identifier shown with every message, e.g. "hakgen-agent".
func Dial(path, tag string) (*Writer, error) {
	if path == "" {
		path = DefaultSocket
	}
	w := &Writer{path: path, tag: tag, pid: os.Getpid()}
	if err := w.dial(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) dial() error {
	conn, err := net.Dial("unixgram", w.path)
	if err != nil {
		return fmt.Errorf("connecting to syslog socket: %w", err)
	}
	w.conn = conn
	return nil
}

// Send writes msg with the given syslog severity (0 emergency to 7
// debug). When the socket's owner was restarted, it reconnects once.
func (w *Writer) Send(severity int, msg []byte) error {
	for len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	line := fmt.Appendf(nil, "<%d>%s %s[%d]: %s", facilityDaemon|severity,
		time.Now().Format(time.Stamp), w.tag, w.pid, msg)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.conn.Write(line); err == nil {
		return nil
	}
	_ = w.conn.Close()
	if err := w.dial(); err != nil {
		return err
	}
	_, err := w.conn.Write(line)
	return err
}

// Close closes the socket.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conn.Close()
}

// core is a zapcore.Core writing through a Writer.
type core struct {
	zapcore.LevelEnabler
	enc zapcore.Encoder
	w   *Writer
}

// NewCore returns a core sending entries at levels enab lets through to w,
// one datagram each: the logger's name, the message and the fields as
// JSON. Time and level are left to syslog (its timestamp and priority).
func NewCore(w *Writer, enab zapcore.LevelEnabler) zapcore.Core {
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		NameKey:          "logger",
		MessageKey:       "msg",
		LineEnding:       "\n",
		ConsoleSeparator: " ",
		EncodeDuration:   zapcore.StringDurationEncoder,
		EncodeTime:       zapcore.ISO8601TimeEncoder,
		EncodeName:       zapcore.FullNameEncoder,
	})
	return &core{LevelEnabler: enab, enc: enc, w: w}
}

func (c *core) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &core{LevelEnabler: c.LevelEnabler, enc: enc, w: c.w}
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
	return c.w.Send(Severity(e.Level), buf.Bytes())
}

func (c *core) Sync() error { return nil }

// Severity maps a zap level to a syslog severity.
func Severity(l zapcore.Level) int {
	switch {
	case l <= zapcore.DebugLevel:
		return 7 // debug
	case l == zapcore.InfoLevel:
		return 6 // info
	case l == zapcore.WarnLevel:
		return 4 // warning
	case l == zapcore.ErrorLevel:
		return 3 // err
	}
	return 2 // crit: DPanic, Panic, Fatal
}

package syslogcore_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hakgen/hakgen/internal/syslogcore"
)

// listen opens a unix datagram socket standing in for /dev/log.
func listen(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func read(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading a datagram: %v", err)
	}
	return string(buf[:n])
}

func TestCoreWritesOneSyslogDatagramPerEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	conn := listen(t, path)
	w, err := syslogcore.Dial(path, "hakgen-agent")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	log := zap.New(syslogcore.NewCore(w, zapcore.InfoLevel)).Named("notify")

	log.Debug("not sent")
	log.Info("floating IP assigned", zap.Duration("took", 1234*time.Millisecond), zap.Int64("server", 1001))
	log.With(zap.String("state", "MASTER")).Warn("multi\nline")

	pid := os.Getpid()
	for _, want := range []*regexp.Regexp{
		// LOG_DAEMON (3) * 8 + info (6) = 30; no hostname, as syslog(3) writes locally.
		regexp.MustCompile(fmt.Sprintf(`^<30>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d hakgen-agent\[%d\]: notify floating IP assigned \{"took": "1.234s", "server": 1001\}$`, pid)),
		// warning (4): 28; fields given With come along.
		regexp.MustCompile(fmt.Sprintf(`^<28>.* hakgen-agent\[%d\]: notify multi\nline \{"state": "MASTER"\}$`, pid)),
	} {
		if got := read(t, conn); !want.MatchString(got) {
			t.Errorf("datagram %q does not match %s", got, want)
		}
	}
}

func TestWriterReconnectsAfterTheSocketIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	first := listen(t, path)
	w, err := syslogcore.Dial(path, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Send(6, []byte("one")); err != nil {
		t.Fatal(err)
	}
	read(t, first)
	// journald restarting: the old socket goes, a new one appears.
	first.Close()
	os.Remove(path)
	second := listen(t, path)
	if err := w.Send(6, []byte("two")); err != nil {
		t.Fatalf("Send after the socket was replaced: %v", err)
	}
	if got := read(t, second); !regexp.MustCompile(`: two$`).MatchString(got) {
		t.Errorf("got %q", got)
	}
}

func TestDialFailsWithoutSocket(t *testing.T) {
	if _, err := syslogcore.Dial(filepath.Join(t.TempDir(), "none"), "t"); err == nil {
		t.Fatal("Dial to a missing socket succeeded")
	}
}

func TestSeverity(t *testing.T) {
	for l, want := range map[zapcore.Level]int{
		zapcore.DebugLevel: 7, zapcore.InfoLevel: 6, zapcore.WarnLevel: 4,
		zapcore.ErrorLevel: 3, zapcore.DPanicLevel: 2, zapcore.FatalLevel: 2,
	} {
		if got := syslogcore.Severity(l); got != want {
			t.Errorf("Severity(%s) = %d, want %d", l, got, want)
		}
	}
}

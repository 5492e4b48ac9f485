package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultMasterSocket is the master CLI socket of Debian's haproxy.service
// (see DebianServiceArgs).
const DefaultMasterSocket = "/run/haproxy-master.sock"

// maxAnswer bounds how much of one answer is read: a `show stat` of a large
// configuration is a few hundred kilobytes, so this only stops a runaway peer.
const maxAnswer = 64 << 20

// defaultCommandTimeout bounds a command whose context has no deadline.
const defaultCommandTimeout = 10 * time.Second

// Master is a client of the master CLI that HAProxy opens with `-S SOCKET`
// in master-worker mode (-W or -Ws). It holds no connection: every command
// opens one, sends one line, half-closes the connection and reads the answer
// until the master closes it. It is safe for concurrent use.
type Master struct {
	// Socket is the path of the master CLI socket; DefaultMasterSocket when
	// empty.
	Socket string
}

// NewMaster returns a client of the master CLI at socket.
func NewMaster(socket string) *Master { return &Master{Socket: socket} }

func (m *Master) socket() string {
	if m.Socket == "" {
		return DefaultMasterSocket
	}
	return m.Socket
}

// Command sends cmd to the master process and returns its whole answer,
// unmodified (HAProxy ends most answers with an empty line). The context's
// deadline bounds connecting, writing and reading; without a deadline a
// default of 10 s applies. cmd must be a single line.
//
// An error means no complete answer was read. An answer HAProxy gives to a
// command it does not know ("Unknown command...") is not an error here.
func (m *Master) Command(ctx context.Context, cmd string) (string, error) {
	if strings.ContainsAny(cmd, "\r\n") {
		return "", fmt.Errorf("master cli command %q: must be a single line", cmd)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultCommandTimeout)
		defer cancel()
	}
	out, err := m.roundTrip(ctx, cmd)
	if err != nil {
		return "", fmt.Errorf("master cli %s: %q: %w", m.socket(), cmd, err)
	}
	return out, nil
}

// Worker sends cmd to the current worker through the master (`@1 cmd`) and
// returns its answer, e.g. Worker(ctx, "show servers state"). cmd must not
// contain ';': HAProxy would run everything after the first ';' on the
// master, not on the worker.
func (m *Master) Worker(ctx context.Context, cmd string) (string, error) {
	return m.routed(ctx, "@1", cmd)
}

// Process sends cmd to the process with the given PID (`@!PID cmd`), e.g.
// an old worker still draining connections. The same rules as Worker apply.
func (m *Master) Process(ctx context.Context, pid int, cmd string) (string, error) {
	return m.routed(ctx, "@!"+strconv.Itoa(pid), cmd)
}

func (m *Master) routed(ctx context.Context, prefix, cmd string) (string, error) {
	if strings.Contains(cmd, ";") {
		return "", fmt.Errorf("master cli command %q: ';' would run the rest on the master", cmd)
	}
	out, err := m.Command(ctx, prefix+" "+cmd)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(out, "Can't find the target PID") {
		return "", fmt.Errorf("master cli %s: %q: no such process: %s", m.socket(), prefix+" "+cmd, firstLine(out))
	}
	return out, nil
}

// roundTrip writes one command and reads until EOF. HAProxy 2.6 keeps the
// connection open after answering until the client shuts its write side, so
// the write side is closed right after the command.
func (m *Master) roundTrip(ctx context.Context, cmd string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", m.socket())
	if err != nil {
		return "", dialError(ctx, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return "", err
		}
	}
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", ctxErr(ctx, err)
	}
	if err := conn.(*net.UnixConn).CloseWrite(); err != nil {
		return "", ctxErr(ctx, err)
	}
	out, err := io.ReadAll(io.LimitReader(conn, maxAnswer))
	if err != nil {
		return "", ctxErr(ctx, err)
	}
	return string(out), nil
}

// ErrMasterUnavailable is wrapped by errors of commands that could not reach
// a master: the socket is missing or nothing listens on it.
var ErrMasterUnavailable = errors.New("haproxy master not running or socket missing (is haproxy started with -W/-Ws and -S?)")

// ErrNotConnected is wrapped by errors of commands that never reached the
// master because no connection was made (ErrMasterUnavailable, a full
// listen queue, a deadline before connecting): the master did not see the
// command. Errors after connecting do not wrap it, since the command may
// have been read.
var ErrNotConnected = errors.New("no connection to the master")

func dialError(ctx context.Context, err error) error {
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		return notConnected{fmt.Errorf("%w: %w", ErrMasterUnavailable, err)}
	}
	return notConnected{ctxErr(ctx, err)}
}

// notConnected marks a dial error as ErrNotConnected without changing its
// message.
type notConnected struct{ err error }

func (e notConnected) Error() string        { return e.err.Error() }
func (e notConnected) Unwrap() error        { return e.err }
func (e notConnected) Is(target error) bool { return target == ErrNotConnected }

// ctxErr prefers the context's error over the deadline error it caused.
// The connection's deadline is the context's, and may fire a moment before
// the context reports it.
func ctxErr(ctx context.Context, err error) error {
	cause := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cause == nil && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		cause = context.DeadlineExceeded
	}
	if cause != nil {
		return fmt.Errorf("%w (%w)", cause, err)
	}
	return err
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

//go:build linux

package sdbox

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// consoleLimit bounds the console output a machine keeps: the latest bytes
// win.
const consoleLimit = 1 << 20

// console is the master side of the pseudo-terminal that is the machine's
// /dev/console. It must be read continuously: a full terminal buffer would
// block systemd's status output, and with it PID 1. It also keeps the
// terminal side open: systemd opens /dev/console only to write, and with no
// terminal side open a read of the master fails at once instead of waiting.
type console struct {
	master *os.File
	peer   *os.File
	mu     sync.Mutex
	buf    []byte
	done   chan struct{} // closed when the reader stops
}

// openConsole allocates a pseudo-terminal and starts reading it. The
// returned terminal side belongs to the console: the caller may hand it to
// a child process but must not close it. Reading stops at close.
func openConsole() (*console, *os.File, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening pseudo-terminal: %w", err)
	}
	peer, err := openPeer(master)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	c := &console{master: master, peer: peer, done: make(chan struct{})}
	go c.read()
	return c, peer, nil
}

// openPeer unlocks the terminal side of master and opens it.
func openPeer(master *os.File) (*os.File, error) {
	raw, err := master.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("pseudo-terminal: %w", err)
	}
	peer := -1
	var ioctlErr error
	err = raw.Control(func(fd uintptr) {
		if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr != nil {
			return
		}
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
		if errno != 0 {
			ioctlErr = errno
		}
		peer = int(r)
	})
	if err = errors.Join(err, ioctlErr); err != nil {
		return nil, fmt.Errorf("opening terminal side of pseudo-terminal: %w", err)
	}
	// Wide enough that systemd does not shorten its status lines.
	ws := unix.Winsize{Row: 50, Col: 240}
	if err := unix.IoctlSetWinsize(peer, unix.TIOCSWINSZ, &ws); err != nil {
		unix.Close(peer)
		return nil, fmt.Errorf("sizing pseudo-terminal: %w", err)
	}
	return os.NewFile(uintptr(peer), "sdbox-console"), nil
}

func (c *console) read() {
	defer close(c.done)
	chunk := make([]byte, 32<<10)
	for {
		n, err := c.master.Read(chunk)
		c.mu.Lock()
		c.buf = append(c.buf, chunk[:n]...)
		if over := len(c.buf) - consoleLimit; over > 0 {
			c.buf = append(c.buf[:0], c.buf[over:]...)
		}
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// String returns the console output kept so far, with terminal line ends
// turned into plain newlines.
func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.ReplaceAll(string(c.buf), "\r\n", "\n")
}

// close stops reading, waiting a bounded time for the reader to finish.
func (c *console) close() error {
	err := errors.Join(c.master.Close(), c.peer.Close())
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		err = errors.Join(err, errors.New("console reader did not stop"))
	}
	return err
}

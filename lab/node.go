package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hakgen/hakgen/internal/spawn"
)

// Bounds of the waits of a node (upper bounds against hangs, not
// expectations).
const (
	nodeStartTimeout = 15 * time.Second
	nodeStopTimeout  = 10 * time.Second
	commandTimeout   = 30 * time.Second
)

// nodeEnv is the environment of everything started in a node, as a
// service gets it on a Debian host; callers add their own variables.
var nodeEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}

// holderScript is PID 1 of a node. It names the node, then waits forever;
// bash reaps every child that ends up with it, as init does, so a killed
// HAProxy master's workers do not linger as zombies (which `killall -0`
// would still count).
const holderScript = `set -eu
hostname "$1"
echo ready
while :; do sleep 3600 & wait $! || true; done
`

// machineScript is PID 1 of a load balancer: before the holder's loop it
// gives the node the filesystem of a VM of its own, so every default path
// of hakgen, HAProxy and keepalived is used as on a real load balancer
// without touching the host's files:
//   - /etc and /var/lib are copy-on-write over the host's (the node starts
//     with Debian's own haproxy.cfg); its writes stay in DIR/fs;
//   - /usr/bin has BIN's files on top (hakgen-agent where the package puts it);
//   - /dev is private: the host's basic devices, and DIR/log.sock, the
//     lab's syslog receiver for this node, as /dev/log (and in HAProxy's
//     chroot, as Debian's unit binds it);
//   - /sys shows this node's network devices;
//   - /run, /tmp, /var/tmp and /root are empty tmpfs. /run has journald's
//     socket (DIR/journal.sock, the lab's receiver), as on a systemd
//     host, but no /run/systemd/system: no systemd manages this machine.
//
// The mounts that read DIR come first: DIR lives under the host's /tmp.
const machineScript = `set -eu
name=$1 dir=$2 bin=$3
hostname "$name"
for d in etc var/lib; do
	u="$dir/fs/$(echo "$d" | tr / -)"
	mkdir -p "$u/upper" "$u/work"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$u/upper,workdir=$u/work" "/$d"
done
mount -t overlay overlay -o "lowerdir=$bin:/usr/bin" /usr/bin
mkdir -p "$dir/hostdev"
mount --rbind /dev "$dir/hostdev"
mount -t tmpfs -o mode=755,nosuid tmpfs /dev
for d in null zero full random urandom tty; do
	touch "/dev/$d"
	mount --bind "$dir/hostdev/$d" "/dev/$d"
done
umount -l "$dir/hostdev"
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
touch /dev/log
mount --bind "$dir/log.sock" /dev/log
mkdir -p /var/lib/haproxy/dev
touch /var/lib/haproxy/dev/log
mount --bind "$dir/log.sock" /var/lib/haproxy/dev/log
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -p /run/haproxy /run/lock /run/systemd/journal
touch /run/systemd/journal/socket
mount --bind "$dir/journal.sock" /run/systemd/journal/socket
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
mount -t tmpfs -o mode=700 tmpfs /root
echo ready
while :; do sleep 3600 & wait $! || true; done
`

// Node is one machine of the lab: a holder process that is PID 1 of its
// own PID namespace, with its own network, mount and UTS namespaces.
// Processes started in a node (Run, Start) enter all four, so they see the
// node's interfaces, files and processes only. Killing the holder ends
// every process of the node; its network namespace goes with the last
// socket or file that refers to it (Close releases the lab's).
type Node struct {
	Name    string   // lb1, lb2, internet, private, backends
	Journal *Journal // everything the node's processes printed or logged

	tag    string // the holder's argv[0], unique on this machine
	dir    string // this node's private directory on the host
	tools  *Tools
	holder *exec.Cmd
	exited chan struct{}  // closed when the holder has been reaped
	pid1   int            // the node's PID 1, as the host numbers it
	netns  *os.File       // the node's network namespace, held open
	logs   []*logReceiver // the machine's /dev/log and journald socket

	mu    sync.Mutex
	procs []*Proc
}

// nodeSpec is how to make a node.
type nodeSpec struct {
	name, tag, dir string
	// machine gives the node the filesystem of a VM (machineScript), with
	// binDir's files on top of /usr/bin.
	machine bool
	binDir  string
}

// startNode starts a node's holder and returns once the node is set up.
func startNode(tools *Tools, spec nodeSpec) (*Node, error) {
	n := &Node{Name: spec.name, Journal: newJournal(), tag: spec.tag, dir: spec.dir, tools: tools, exited: make(chan struct{})}
	if err := os.MkdirAll(spec.dir, 0o700); err != nil {
		return nil, fmt.Errorf("node %s: %w", n.Name, err)
	}
	script, args := holderScript, []string{spec.name}
	if spec.machine {
		for sock, parse := range map[string]parseFunc{"log.sock": parseSyslog, "journal.sock": parseJournal} {
			r, err := listenLog(filepath.Join(spec.dir, sock), n.Journal, parse)
			if err != nil {
				n.closeLogs()
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			n.logs = append(n.logs, r)
		}
		script, args = machineScript, []string{spec.name, spec.dir, spec.binDir}
	}
	argv := append([]string{"--net", "--pid", "--mount", "--uts", "--fork", "--kill-child", "--mount-proc",
		"--propagation", "private", "--", tools.Bash, "-c", script, spec.tag}, args...)
	n.holder = exec.Command(tools.Unshare, argv...)
	n.holder.Env = nodeEnv
	n.holder.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	n.holder.Stderr = n.Journal.Writer("holder")
	stdout, err := n.holder.StdoutPipe()
	if err != nil {
		n.closeLogs()
		return nil, err
	}
	if err := spawn.Start(n.holder); err != nil {
		n.closeLogs()
		return nil, fmt.Errorf("node %s: starting the holder: %w", n.Name, err)
	}
	go func() { _ = n.holder.Wait(); close(n.exited) }()
	if err := n.awaitReady(stdout); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// awaitReady waits for the holder's "ready", then finds its PID 1 and
// opens its network namespace.
func (n *Node) awaitReady(stdout interface{ Read([]byte) (int, error) }) error {
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() && sc.Text() == "ready" {
			ready <- nil
		} else {
			ready <- errors.New("the holder ended before it was ready")
		}
		w := n.Journal.Writer("holder")
		for sc.Scan() {
			fmt.Fprintln(w, sc.Text())
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			return fmt.Errorf("node %s: %w:\n%s", n.Name, err, n.Journal.String())
		}
	case <-time.After(nodeStartTimeout):
		return fmt.Errorf("node %s: not ready after %s:\n%s", n.Name, nodeStartTimeout, n.Journal.String())
	}
	kids := children(n.holder.Process.Pid)
	if len(kids) != 1 {
		return fmt.Errorf("node %s: unshare has children %v, want its one PID 1", n.Name, kids)
	}
	n.pid1 = kids[0]
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", n.pid1))
	if err != nil {
		return fmt.Errorf("node %s: opening its network namespace: %w", n.Name, err)
	}
	n.netns = f
	return nil
}

// Path is the host's path to the node's file p (an absolute path as the
// node sees it), through the node's PID 1.
func (n *Node) Path(p string) string { return fmt.Sprintf("/proc/%d/root%s", n.pid1, p) }

// ReadFile reads the node's file p.
func (n *Node) ReadFile(p string) ([]byte, error) { return os.ReadFile(n.Path(p)) }

// WriteFile saves data as the node's file p with perm, as an editor does:
// a new file beside it, renamed over it. Its directory is created (0755).
func (n *Node) WriteFile(p string, data []byte, perm os.FileMode) error {
	path := n.Path(p)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".lab-new"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil { // not narrowed by the umask
		return err
	}
	return os.Rename(tmp, path)
}

// nsenter is the argument vector that runs argv in all of the node's
// namespaces, from its root directory.
func (n *Node) nsenter(argv ...string) []string {
	return append([]string{n.tools.Nsenter, "--target", fmt.Sprint(n.pid1),
		"--net", "--mount", "--pid", "--uts", "--wd=/", "--"}, argv...)
}

// Run runs argv in the node and returns its combined output; a non-zero
// exit is an error that includes the output.
func (n *Node) Run(ctx context.Context, argv ...string) (string, error) {
	return n.RunInput(ctx, "", argv...)
}

// RunInput is Run with input as the command's standard input.
func (n *Node) RunInput(ctx context.Context, input string, argv ...string) (string, error) {
	return n.RunWith(ctx, nil, input, argv...)
}

// RunWith is Run with nodeEnv plus env, and input as standard input.
func (n *Node) RunWith(ctx context.Context, env []string, input string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	full := n.nsenter(argv...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Env = append(slices.Clone(nodeEnv), env...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s: %w: %s", n.Name, strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// RunSplit is RunWith with standard output and standard error apart: a
// command whose output is for machines (--json) and whose progress goes
// to stderr. A non-zero exit is an error that includes stderr.
func (n *Node) RunSplit(ctx context.Context, env []string, argv ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	full := n.nsenter(argv...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Env = append(slices.Clone(nodeEnv), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), errOut.String(), fmt.Errorf("%s: %s: %w: %s", n.Name, strings.Join(argv, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), nil
}

// MustRun runs argv in the node and returns its output, or fails tb.
func (n *Node) MustRun(tb testing.TB, argv ...string) string {
	tb.Helper()
	out, err := n.Run(context.Background(), argv...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Close kills the node's holder, and with it every process of the node,
// and releases the node's namespaces. It is safe to call more than once.
func (n *Node) Close() {
	if n.holder != nil && n.holder.Process != nil {
		_ = n.holder.Process.Signal(syscall.SIGKILL) // unshare --kill-child takes PID 1 with it
		select {
		case <-n.exited:
		case <-time.After(nodeStopTimeout):
		}
		if n.pid1 > 0 {
			// PID 1 of a namespace exits only after every other process
			// in it; its zombie is the host init's to reap.
			awaitDead(n.pid1, nodeStopTimeout)
		}
	}
	n.mu.Lock()
	procs := n.procs
	n.mu.Unlock()
	for _, p := range procs {
		p.awaitExit(nodeStopTimeout)
	}
	if n.netns != nil {
		_ = n.netns.Close()
		n.netns = nil
	}
	n.closeLogs()
}

// awaitDead waits until pid has exited (gone, or a zombie).
func awaitDead(pid int, timeout time.Duration) bool {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if state, err := procState(pid); err != nil || state == 'Z' {
			return true
		}
	}
	return false
}

func (n *Node) closeLogs() {
	for _, r := range n.logs {
		r.Close()
	}
	n.logs = nil
}

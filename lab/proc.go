package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hakgen/hakgen/internal/spawn"
)

// Proc is a long-running process started in a node, such as HAProxy or
// keepalived. The lab's child is nsenter, which forks the process into the
// node's PID namespace and waits for it; the process's output goes to the
// node's journal under Name.
type Proc struct {
	Name string
	node *Node
	cmd  *exec.Cmd
	done chan struct{} // closed when nsenter has been reaped
}

// Start starts argv in the node with nodeEnv plus env.
func (n *Node) Start(name string, env []string, argv ...string) (*Proc, error) {
	full := n.nsenter(argv...)
	p := &Proc{Name: name, node: n, cmd: exec.Command(full[0], full[1:]...), done: make(chan struct{})}
	p.cmd.Env = append(slices.Clone(nodeEnv), env...)
	w := n.Journal.Writer(name)
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := spawn.Start(p.cmd); err != nil {
		return nil, fmt.Errorf("%s: starting %s: %w", n.Name, name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	n.mu.Lock()
	n.procs = append(n.procs, p)
	n.mu.Unlock()
	return p, nil
}

// Running reports whether the process (nsenter's child) still runs.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// PID is the host's PID of the process itself (nsenter's child).
func (p *Proc) PID() (int, error) {
	for range 100 { // nsenter forks right away: 1 s at most
		if !p.Running() {
			return 0, fmt.Errorf("%s on %s has exited", p.Name, p.node.Name)
		}
		if kids := children(p.cmd.Process.Pid); len(kids) > 0 {
			return kids[0], nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s on %s: nsenter has not forked it", p.Name, p.node.Name)
}

// Tree is the process and all its descendants (an HAProxy master and its
// workers, keepalived and its VRRP and checker children), parents first.
func (p *Proc) Tree() ([]int, error) {
	pid, err := p.PID()
	if err != nil {
		return nil, err
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children(tree[i])...)
	}
	return tree, nil
}

// Kill sends SIGKILL to the process and every descendant, as `kill -9`
// of all of a service's PIDs does, and waits until nsenter has exited.
func (p *Proc) Kill() error {
	tree, err := p.Tree()
	if err != nil {
		return err
	}
	for _, pid := range tree {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if !p.awaitExit(nodeStopTimeout) {
		return fmt.Errorf("%s on %s still runs %s after SIGKILL", p.Name, p.node.Name, nodeStopTimeout)
	}
	return nil
}

// Signal sends sig to the process itself (not to nsenter).
func (p *Proc) Signal(sig syscall.Signal) error {
	pid, err := p.PID()
	if err != nil {
		return err
	}
	return syscall.Kill(pid, sig)
}

// Stop sends SIGTERM to the process and waits up to timeout for it to
// exit; then it kills what is left.
func (p *Proc) Stop(timeout time.Duration) error {
	if !p.Running() {
		return nil
	}
	if err := p.Signal(syscall.SIGTERM); err != nil && p.Running() {
		return err
	}
	if p.awaitExit(timeout) {
		return nil
	}
	return p.Kill()
}

func (p *Proc) awaitExit(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// children returns the PIDs whose parent is pid, from /proc.
func children(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, err := parentOf(child); err == nil && ppid == pid {
			out = append(out, child)
		}
	}
	slices.Sort(out)
	return out
}

// parentOf reads the parent PID from /proc/PID/stat.
func parentOf(pid int) (int, error) {
	fields, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(fields[1])
}

// procState is the state letter of /proc/PID/stat (R, S, Z, ...).
func procState(pid int) (byte, error) {
	fields, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return fields[0][0], nil
}

// statFields are the fields of /proc/PID/stat after the command, which
// is in parentheses and may itself hold spaces and parentheses: the
// state, the parent PID, ...
func statFields(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, errors.New("no command field")
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return nil, errors.New("short stat")
	}
	return fields, nil
}

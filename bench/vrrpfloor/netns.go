package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// netns is a network namespace of its own, held by an OS thread that does
// nothing but run the functions given to do. Sockets opened and processes
// started in do live in the namespace; processes started there get
// SIGKILL when the thread ends (Pdeathsig), so nothing outlives the
// benchmark even when it is killed. The namespace ends with its last user.
type netns struct {
	name string
	tid  int // the holding thread: `ip link … netns TID` moves a link here
	work chan func()
	done chan struct{}
}

func newNetns(name string) (*netns, error) {
	ns := &netns{name: name, work: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine, so no other
		// goroutine ever runs in the namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("creating network namespace %s: %w", name, err)
			return
		}
		ns.tid = unix.Gettid()
		ready <- nil
		for {
			select {
			case f := <-ns.work:
				f()
			case <-ns.done:
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return ns, nil
}

// do runs f in the namespace and waits for it.
func (ns *netns) do(f func()) {
	finished := make(chan struct{})
	ns.work <- func() { defer close(finished); f() }
	<-finished
}

// close ends the holding thread; processes still running in the
// namespace get SIGKILL.
func (ns *netns) close() { close(ns.done) }

// start starts cmd in the namespace, in a process group of its own, to
// be killed when the namespace's thread ends.
func (ns *netns) start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var err error
	ns.do(func() { err = cmd.Start() })
	return err
}

// ip runs ip(8) with args in the namespace.
func (ns *netns) ip(args ...string) error {
	var out []byte
	var err error
	ns.do(func() { out, err = exec.Command("ip", args...).CombinedOutput() })
	if err != nil {
		return fmt.Errorf("ip %s in %s: %w: %s", strings.Join(args, " "), ns.name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// keepalivedScript runs keepalived as Debian's unit does (--dont-fork), in
// the mount namespace unshare made, on a private /run so that the pid files
// of its parent and its VRRP child stay apart from any other keepalived.
// The console is its log (it is written to a file); syslog is off.
const keepalivedScript = `mount -t tmpfs tmpfs /run &&
exec "$1" --dont-fork --log-console --log-detail --no-syslog -f "$2" -p /run/keepalived.pid -r /run/vrrp.pid -c /run/checkers.pid`

// stopTimeout bounds how long a keepalived gets to stop on SIGTERM before
// its process group is killed.
const stopTimeout = 15 * time.Second

// node is one load balancer of the pair: a network namespace with a
// private link (VRRP) and a public one (the Floating IP), keepalived, and
// the HTTP answer to its vrrp_script's check.
type node struct {
	nodeConfig
	ns         *netns
	links      []string // inside ns: the VRRP link, then the Floating IP's
	keepalived string
	log        string // keepalived's console output
	health     net.Listener
	monitor    *exec.Cmd // ip monitor address

	proc   *exec.Cmd // the running keepalived, nil when stopped
	exited chan struct{}
}

// serveHealth answers the vrrp_script's `hakgen-agent check` as HAProxy's
// monitor-uri does: 200 on the check's path. It listens in the node's
// namespace on the address the check asks.
func (n *node) serveHealth() error {
	u, err := url.Parse(n.checkURL)
	if err != nil {
		return err
	}
	n.ns.do(func() { n.health, err = net.Listen("tcp", u.Host) })
	if err != nil {
		return fmt.Errorf("listening for %s's check on %s: %w", n.name, u.Host, err)
	}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != u.Path {
				w.WriteHeader(http.StatusNotFound)
			}
		}),
	}
	go func() { _ = srv.Serve(n.health) }()
	return nil
}

// watchAddress runs `ip -o monitor address` in the node's namespace and
// calls seen with the time each line arrives.
func (n *node) watchAddress(seen func(at time.Time, line string)) error {
	cmd := exec.Command("ip", "-o", "monitor", "address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := n.ns.start(cmd); err != nil {
		return fmt.Errorf("ip monitor address in %s: %w", n.ns.name, err)
	}
	n.monitor = cmd
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			seen(time.Now(), sc.Text())
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	}()
	return nil
}

// start starts keepalived; its console output is appended to n.log.
func (n *node) start() error {
	if n.proc != nil {
		return fmt.Errorf("keepalived of %s is already running", n.name)
	}
	logf, err := os.OpenFile(n.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", keepalivedScript, "sh", n.keepalived, n.conf)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := n.ns.start(cmd); err != nil {
		return fmt.Errorf("starting keepalived of %s: %w", n.name, err)
	}
	n.proc, n.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(n.exited)
	return nil
}

// stop stops keepalived with SIGTERM, as systemctl stop does, and waits
// for it; after stopTimeout it kills the process group.
func (n *node) stop() error {
	if n.proc == nil {
		return nil
	}
	defer func() { n.proc = nil }()
	_ = n.proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
		return nil
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-n.proc.Process.Pid, syscall.SIGKILL)
		<-n.exited
		return fmt.Errorf("keepalived of %s did not stop within %s of SIGTERM; killed", n.name, stopTimeout)
	}
}

// setLinks sets the node's links up or down, the VRRP link first.
func (n *node) setLinks(state string) error {
	for _, l := range n.links {
		if err := n.ns.ip("link", "set", l, state); err != nil {
			return err
		}
	}
	return nil
}

// close stops everything the node runs.
func (n *node) close() error {
	err := n.stop()
	if n.health != nil {
		n.health.Close()
	}
	if n.monitor != nil && n.monitor.Process != nil {
		_ = n.monitor.Process.Kill()
	}
	return err
}

// logTail returns the last lines of keepalived's output, for errors.
func (n *node) logTail(lines int) string {
	data, err := os.ReadFile(n.log)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func nodeLog(dir, node string) string { return filepath.Join(dir, node+"-keepalived.log") }

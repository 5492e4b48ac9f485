package haproxy

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultWatchInterval is how often WatchMaster asks the master socket for
// a master while none is running.
const DefaultWatchInterval = time.Second

// WatchMaster reports, through report, whether HAProxy's master process
// runs, until ctx ends: true once the master socket names a live master,
// false the instant that process exits (the watch holds a pidfd of it and
// waits for it to become readable, which the kernel makes it at exit), and
// false while no master answers. A reload keeps the master's PID, so it
// reports nothing. report is called on every change, and once at start.
func WatchMaster(ctx context.Context, m *Master, interval time.Duration, report func(running bool)) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	last, known := false, false
	set := func(running bool) {
		if !known || running != last {
			last, known = running, true
			report(running)
		}
	}
	for ctx.Err() == nil {
		fd, err := masterPidfd(ctx, m)
		if err != nil {
			set(false)
			sleepCtx(ctx, interval)
			continue
		}
		set(true)
		waitExit(ctx, fd)
		_ = unix.Close(fd)
		if ctx.Err() == nil {
			set(false)
		}
	}
}

// masterPidfd finds the master's PID through `show proc` and opens a pidfd
// of it.
func masterPidfd(ctx context.Context, m *Master) (int, error) {
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	procs, err := m.ShowProc(qctx)
	if err != nil {
		return -1, err
	}
	if procs.Master.PID <= 0 {
		return -1, errors.New("show proc names no master")
	}
	return unix.PidfdOpen(procs.Master.PID, 0)
}

// waitExit waits until the process of the pidfd exits or ctx ends.
func waitExit(ctx context.Context, fd int) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for ctx.Err() == nil {
		n, err := unix.Poll(fds, 200) // ms: how often ctx is looked at
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n > 0 {
			return // readable: the process has exited
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

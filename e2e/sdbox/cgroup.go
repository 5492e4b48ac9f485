//go:build linux

package sdbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// cgroupPrefix names machine cgroups: "hakgen-sdbox-<test binary pid>-<n>".
const cgroupPrefix = "hakgen-sdbox-"

var cgroupSeq atomic.Int64

// cgroup is the cgroup2 directory a machine's PID 1 is cloned into. It
// becomes the root of the machine's cgroup namespace, so systemd builds its
// tree (init.scope, system.slice, ...) below it and nowhere else.
type cgroup struct {
	dir string
}

// newCgroup creates a machine cgroup below the calling process's own
// cgroup2 directory, after removing empty ones left by test binaries that
// no longer run.
func newCgroup() (*cgroup, error) {
	parent, err := ownCgroupDir()
	if err != nil {
		return nil, err
	}
	sweepStaleCgroups(parent)
	dir := filepath.Join(parent, fmt.Sprintf("%s%d-%d", cgroupPrefix, os.Getpid(), cgroupSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating machine cgroup: %w", err)
	}
	return &cgroup{dir: dir}, nil
}

// ownCgroupDir is the cgroup2 directory of the calling process, as seen
// through the first cgroup2 mount (/sys/fs/cgroup on a unified host,
// /sys/fs/cgroup/unified on a hybrid one).
func ownCgroupDir() (string, error) {
	mountPoint, root, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("reading own cgroup: %w", err)
	}
	return cgroupDir(mountPoint, root, string(data))
}

// cgroupDir maps the cgroup2 entry ("0::/path") of a /proc/PID/cgroup
// table to a directory below the cgroup2 mount at mountPoint, whose root
// is the cgroup root.
func cgroupDir(mountPoint, root, table string) (string, error) {
	for line := range strings.Lines(table) {
		own, ok := strings.CutPrefix(strings.TrimSpace(line), "0::")
		if !ok {
			continue
		}
		if root != "/" && own != root && !strings.HasPrefix(own, root+"/") {
			return "", fmt.Errorf("own cgroup %q is outside the cgroup2 mount's root %q", own, root)
		}
		return filepath.Join(mountPoint, strings.TrimPrefix(own, root)), nil
	}
	return "", errors.New("the calling process has no cgroup2 membership")
}

// cgroup2Mount finds the first cgroup2 mount of the calling process and
// returns its mount point and the cgroup it shows as its root.
func cgroup2Mount() (mountPoint, root string, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	return findCgroup2Mount(f)
}

// findCgroup2Mount reads a mountinfo table (proc_pid_mountinfo(5)).
func findCgroup2Mount(r io.Reader) (mountPoint, root string, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, fsFields := strings.Fields(pre), strings.Fields(post)
		if ok && len(fields) >= 5 && len(fsFields) > 0 && fsFields[0] == "cgroup2" {
			return fields[4], fields[3], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("reading mount table: %w", err)
	}
	return "", "", errors.New("no cgroup2 hierarchy is mounted (systemd needs one)")
}

// sweepStaleCgroups removes machine cgroups whose test binary is gone,
// for instance after it was killed by `go test -timeout`. Cgroups of live
// test binaries, this one included, are left alone.
func sweepStaleCgroups(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), cgroupPrefix)
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || !e.IsDir() || err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, fs.ErrNotExist) {
			_ = removeCgroupTree(filepath.Join(parent, e.Name()))
		}
	}
}

// open returns the cgroup directory, for clone3's CLONE_INTO_CGROUP.
func (c *cgroup) open() (*os.File, error) {
	f, err := os.Open(c.dir)
	if err != nil {
		return nil, fmt.Errorf("opening machine cgroup: %w", err)
	}
	return f, nil
}

// destroy kills whatever still runs in the cgroup, waits (bounded) until it
// is empty and removes it with its descendants.
func (c *cgroup) destroy() error {
	err := os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("killing machine cgroup: %w", err)
	}
	const tries, pause = 250, 20 * time.Millisecond
	for range tries {
		if err = removeCgroupTree(c.dir); err == nil {
			return nil
		}
		time.Sleep(pause)
	}
	return fmt.Errorf("removing machine cgroup after %d tries: %w", tries, err)
}

// removeCgroupTree removes dir and every cgroup below it, deepest first.
// It fails while any of them holds a process.
func removeCgroupTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing cgroups below %s: %w", dir, err)
	}
	slices.Reverse(dirs)
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing cgroup: %w", err)
		}
	}
	return nil
}

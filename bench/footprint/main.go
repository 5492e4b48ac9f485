// Command footprint measures what `hakgen-agent run` costs a load balancer
// while nothing changes: it starts the agent binary on a state of three
// control planes and three workers (with the real `haproxy -c`, --reload
// none, the default 5m resync), waits for its first reconcile, then for
// -duration samples its resident memory every second and reads the CPU
// time it used (its own, from /proc/PID/stat; the `haproxy -c` children
// are not counted, and at rest there are none). See bench/bench.sh.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's CPU
// times: 100 on every Linux architecture Debian builds for.
const clockTicks = 100

const stateYAML = `cluster: footprint
controlPlanes:
  - {name: cp1, address: 10.0.0.11}
  - {name: cp2, address: 10.0.0.12}
  - {name: cp3, address: 10.0.0.13}
workers:
  - {name: w1, address: 10.0.0.21}
  - {name: w2, address: 10.0.0.22}
  - {name: w3, address: 10.0.0.23}
stats: {bind: "127.0.0.1:18404"}
`

func main() {
	agent := flag.String("agent", "", "hakgen-agent `binary` to measure (required)")
	haproxyBin := flag.String("haproxy-bin", "/usr/sbin/haproxy", "haproxy `binary` for the agent's checks")
	duration := flag.Duration("duration", 10*time.Minute, "how long to watch the idle agent")
	flag.Parse()
	if *agent == "" || *duration <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := measure(ctx, *agent, *haproxyBin, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "footprint:", err)
		os.Exit(1)
	}
}

func measure(ctx context.Context, agent, haproxyBin string, duration time.Duration) error {
	dir, err := os.MkdirTemp("", "hakgen-footprint-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	statePath, status := filepath.Join(dir, "state.yaml"), filepath.Join(dir, "run", "status.json")
	if err := os.WriteFile(statePath, []byte(stateYAML), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(agent, "run", "--state", statePath, "--haproxy-config", filepath.Join(dir, "haproxy.cfg"),
		"--reload", "none", "--haproxy-bin", haproxyBin, "--last-good", filepath.Join(dir, "lib", "last-good"),
		"--status-file", status, "--server-state-file", filepath.Join(dir, "lib", "server-state"),
		"--keepalived-config", filepath.Join(dir, "keepalived.conf"), "--keepalived-last-good", filepath.Join(dir, "lib", "ka-last-good"),
		"--state-dir", filepath.Join(dir, "run"), "--heal-interval", "0", "--log-format", "json")
	logPath := filepath.Join(dir, "agent.log")
	logFile, err := os.Create(logPath) // shown when the agent does not come up
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if err := waitFirstReconcile(ctx, status); err != nil {
		logs, _ := os.ReadFile(logPath)
		return fmt.Errorf("%w; the agent's log:\n%s", err, logs)
	}
	cpu0, err := cpuTime(pid)
	if err != nil {
		return err
	}
	var rss []int64
	deadline := time.Now().Add(duration)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		kb, err := rssKB(pid)
		if err != nil {
			return err
		}
		rss = append(rss, kb)
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return err
	}
	slices.Sort(rss)
	used := cpu1 - cpu0
	fmt.Printf("| idle RSS (min / median / max over %d samples) | %.1f / %.1f / %.1f MiB |\n", len(rss),
		mib(rss[0]), mib(rss[len(rss)/2]), mib(rss[len(rss)-1]))
	fmt.Printf("| CPU over %s idle (%d resyncs at the default 5m) | %s, %.4f%% of one core |\n", duration,
		int(duration/(5*time.Minute)), used, 100*used.Seconds()/duration.Seconds())
	return nil
}

func mib(kb int64) float64 { return float64(kb) / 1024 }

// waitFirstReconcile waits until the agent's status file exists.
func waitFirstReconcile(ctx context.Context, status string) error {
	for range 300 {
		if data, err := os.ReadFile(status); err == nil {
			var st struct {
				Counts struct{ Reconciles int } `json:"counts"`
			}
			if json.Unmarshal(data, &st) == nil && st.Counts.Reconciles > 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("the agent wrote no status within 30 s")
}

// cpuTime is the user and system CPU time process pid used itself.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// rssKB is VmRSS of process pid, in KiB.
func rssKB(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/failover"
)

const statusLong = `
Prints what the running agent (` + "`hakgen-agent run`" + `) last did, from its status
file: the applied state's hash, when and how the last reconcile ended, the
last error, reload counts, and for each file it manages (haproxy.cfg,
keepalived.conf) what runs; with discovery.hcloud, the discovered servers,
the last successful poll, what polling costs and the API's rate limit. --json prints the status file itself (its
fields are documented in README.md and stable: new ones may be added, none
removed or renamed).

Exits 0 when the last reconcile succeeded, 1 when it failed (each file
says what it runs), 3 when there is no status (the agent never ran) or the
agent that wrote it is gone.`

// statusOptions are the flags of status.
type statusOptions struct {
	path, stateDir string
	asJSON         bool
}

func (o *statusOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.path, "status-file", agent.DefaultStatusPath, "the agent's status `FILE`")
	fs.StringVar(&o.stateDir, "state-dir", failover.DefaultStateDir, "`DIR` of what keepalived's notify runs and the healer recorded")
	fs.BoolVar(&o.asJSON, "json", false, "print the status as JSON")
}

func newStatusCommand(e *env) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "show what the running agent last did",
		Long:    statusLong,
		Example: "  hakgen-agent status\n  hakgen-agent status --json | jq .lastReconcile.outcome",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.show(cmd.Context(), e) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

func (o *statusOptions) show(ctx context.Context, e *env) error {
	path := o.path
	st, err := agent.ReadStatus(path)
	if errors.Is(err, fs.ErrNotExist) && isExample(DefaultStatePath) {
		return envErr(fmt.Errorf("no status at %s: %s is still the packaged example, so the service does not start: edit it, remove its first line, then systemctl start hakgen-agent", path, DefaultStatePath))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return envErr(fmt.Errorf("no status at %s: is `hakgen-agent run` running? (%w)", path, err))
	}
	if err != nil {
		return envErr(err)
	}
	pair := readPair(ctx, o.stateDir, st.StateFile)
	disc, err := readDiscovery(path, st.PID)
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: %v\n", err)
	}
	if o.asJSON {
		if err := printJSON(e.stdout, path, pair, disc); err != nil {
			return err
		}
	} else {
		printStatus(e.stdout, st, pair, time.Now())
		printDiscovery(e.stdout, disc, time.Now())
	}
	switch {
	case !alive(st.PID):
		return envErr(fmt.Errorf("the agent that wrote %s (pid %d) is not running: this status is from its last run", path, st.PID))
	case !st.Healthy && st.Last != nil:
		return fmt.Errorf("the last reconcile failed (%s); see each file above for what runs", st.Last.Outcome)
	}
	return nil
}

// alive reports whether a process with this PID exists (EPERM: it does,
// under another user).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// printJSON prints the status file with the pair's view added as "pair"
// and discovery's status, when there is one, as "discovery".
func printJSON(w io.Writer, path string, pair pairView, disc *discovery.Status) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return envErr(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return envErr(fmt.Errorf("reading %s: %w", path, err))
	}
	if doc["pair"], err = json.Marshal(pair); err != nil {
		return err
	}
	if err := addDiscoveryJSON(doc, disc); err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

// printStatus writes st and the pair's view for people.
func printStatus(w io.Writer, st *agent.Status, pair pairView, now time.Time) {
	fmt.Fprintf(w, "%s\n\n", st.Summary())
	row := func(k, format string, args ...any) {
		if k != "" {
			k += ":"
		}
		fmt.Fprintf(w, "  %-16s "+format+"\n", append([]any{k}, args...)...)
	}
	row("state file", "%s", st.StateFile)
	if st.AppliedHash == "" {
		row("applied state", "none yet")
	} else {
		row("applied state", "%s (since %s)", st.AppliedHash, when(st.AppliedAt, now))
	}
	if l := st.Last; l != nil {
		row("last reconcile", "%s: %s (trigger: %s), took %s (haproxy -c %s, reload %s)", when(l.At, now), l.Outcome, l.Trigger,
			seconds(l.TookSeconds), seconds(l.CheckSeconds), seconds(l.ReloadSeconds))
		for _, warning := range l.Warnings {
			row("warning", "%s", indent(warning))
		}
	}
	if f := st.LastError; f != nil {
		row("last error", "%s (%s):\n      %s", when(f.At, now), f.Outcome, indent(f.Error))
	} else {
		row("last error", "none")
	}
	c := st.Counts
	row("reloads", "%d ok, %d failed, %d rolled back; %d reconciles since %s (pid %d)",
		c.Reloads, c.ReloadsFailed, c.Rollbacks, c.Reconciles, when(st.StartedAt, now), st.PID)
	row("runtime", "%d changed without a reload, %d failed and reloaded instead", c.RuntimeUpdates, c.RuntimeFallbacks)
	for _, t := range st.Targets {
		row(t.Name, "%s", t.Describe())
		if t.Reason != "" && strings.Contains(t.Reason, "\n") {
			row("", "%s", indent(t.Reason))
		}
		row("", "loaded sha256 %s; last known good: %s", abbrev(t.Loaded), t.LastGood)
	}
	pair.print(w, now, row)
}

func when(t, now time.Time) string {
	return fmt.Sprintf("%s, %s ago", t.Local().Format(time.RFC3339), now.Sub(t).Truncate(time.Second))
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(100 * time.Microsecond)
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n      ") }

func abbrev(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	if hash == "" {
		return "none"
	}
	return hash
}

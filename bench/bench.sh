#!/usr/bin/env bash
# Runs every benchmark of hakgen side by side in one run and writes
# BENCHMARKS.md (make bench): the machine, the date, the commands, the
# figures and what they mean.
#
#   bench/bench.sh [-o FILE]
#
# Knobs (environment): BENCH_COUNT (6: runs of each go benchmark, for
# benchstat), BENCH_EDITS (50: server edits per path for the latency),
# BENCH_CHURN_EDITS (100), BENCH_FAILOVER_RUNS (10), BENCH_FOOTPRINT (10m:
# how long the idle agent is watched). Everything runs on loopback: real
# HAProxy (Debian's), real haproxy -c, the fake Hetzner API; it needs Go,
# haproxy and hcloud-cli, not root. It takes about 20 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

out=BENCHMARKS.md
while [ $# -gt 0 ]; do
	case "$1" in
	-o) out=$2; shift 2 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
count=${BENCH_COUNT:-6}
edits=${BENCH_EDITS:-50}
churn_edits=${BENCH_CHURN_EDITS:-100}
failover_runs=${BENCH_FAILOVER_RUNS:-10}
footprint=${BENCH_FOOTPRINT:-10m}
# benchstat, pinned; run outside this module so go.mod stays the agent's.
benchstat="go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"

export PATH="$PATH:/usr/sbin"
for tool in haproxy hcloud; do
	command -v "$tool" >/dev/null || { echo "bench.sh: $tool not found (make test installs it)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step() { echo "bench.sh: $*" >&2; }

step "render and haproxy -c, -count $count"
cmd_render="go test ./render -run '^\$' -bench 'Render|Check' -benchmem -count $count"
eval "$cmd_render" >"$tmp/render.txt"

step "edit to applied, $edits server edits per path"
cmd_latency="go test ./bench/serverchanges -run '^\$' -bench EditLatency -benchtime ${edits}x -count 1 -timeout 30m"
eval "$cmd_latency" >"$tmp/latency.txt"

step "server churn under load, $churn_edits edits per path"
cmd_churn="go test ./bench/serverchanges -run '^\$' -bench Churn -benchtime 1x -count 1 -churn-edits $churn_edits -timeout 30m"
eval "$cmd_churn" >"$tmp/churn.txt"

step "notify against hcloud floating-ip assign, $failover_runs runs"
cmd_failover="bench/failover.sh -runs $failover_runs -latency 30ms"
eval "$cmd_failover" >"$tmp/failover.txt"

step "footprint: the idle agent for $footprint"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/hakgen-agent" ./cmd/hakgen-agent
go build -trimpath -o "$tmp/hakgen-agent-debug" ./cmd/hakgen-agent
cmd_footprint="go run ./bench/footprint -agent \$BIN -duration $footprint"
go run ./bench/footprint -agent "$tmp/hakgen-agent" -duration "$footprint" >"$tmp/footprint.txt"

size() { stat -c %s "$1" | awk '{printf "%.1f MiB (%d bytes)", $1/1048576, $1}'; }
# lines prints the benchmark result lines and the logs of a go test run.
lines() { grep -E '^(Benchmark|    [a-z_]+_test\.go:)' "$1" | sed -E 's/^    [a-z_]+_test\.go:[0-9]+: /  /'; }

{
	cat <<EOF
# Benchmarks

Written by \`make bench\` (bench/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'), at commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' with local changes').

**The machine is shared and noisy**: other jobs run on its cores while it
measures, so single figures move by tens of percent between runs (render
and \`haproxy -c\` times most). The go benchmarks ran $count times each and
benchstat shows the median with its spread (± the 95 % confidence
interval); the latency and churn figures are one run each, over
$edits and $churn_edits edits.

| | |
|---|---|
| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores seen |
| memory | $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) |
| kernel | $(uname -sr) |
| load average at the start | $(cut -d' ' -f1-3 /proc/loadavg) |
| Go | $(go env GOVERSION) |
| HAProxy | $(haproxy -v | head -1) |
| hcloud-cli | $(dpkg-query -W -f '${Version}' hcloud-cli 2>/dev/null || echo unknown) (Debian's) |

Commands, from the repository's root (\`make bench\` runs them all):

\`\`\`
$cmd_render
$cmd_latency
$cmd_churn
$cmd_failover
$cmd_footprint   # BIN: the agent built as the package builds it
\`\`\`

Compare two runs with \`benchstat old.txt new.txt\` on the output of the go
test commands (benchstat: \`go run golang.org/x/perf/cmd/benchstat@latest\`).

## Render scale

3 control planes and 10 to 5000 workers (two ingress backends, so each
worker is two server lines). \`Render\` is \`render.HAProxy\`: state to
haproxy.cfg bytes, the state's hash included; \`Check\` is Debian's
\`haproxy -c\` on that file, as the agent runs it before every install
(process start and parsing included).

\`\`\`
$(cd "$tmp" && $benchstat render.txt 2>&1)
\`\`\`

Render is linear in the servers and a small part of an edit: \`haproxy -c\`
takes one to two orders of magnitude longer at every size, and dominates
the time to an installed file from a few hundred workers on.

## Edit to applied: runtime path and reload path

$edits server edits per path, each moving ingress HTTP from one worker to
another (remove one, add one); the agent in-process with a real HAProxy
2.6, its defaults (100 ms quiet window, 1 s between reloads; edits 1.1 s
apart). Latency from the end of the quiet window (the reconcile's start,
\`lastReconcile.at\`) to the first connection HAProxy routes to the new
worker: \`p50-ms\`, \`p95-ms\`. Apart: \`quiet-ms\`, the debounce from the write
of state.yaml to the reconcile's start; \`total-p50-ms\`, write to routed;
\`check-p50-ms\`, the reconcile's \`haproxy -c\`; \`apply-p50-ms\`, the runtime
change (Runtime API commands, their verification, the server-state file
saved) or the reload (server state saved, reload, verified on the master
socket).

\`\`\`
$(lines "$tmp/latency.txt")
\`\`\`

Both paths check the new file with \`haproxy -c\` and install it before the
running HAProxy changes, so the check is in both latencies; what differs
is \`apply\`: the runtime path sends a handful of commands to the current
worker, the reload path forks a new worker, which parses the whole file
again and takes over the listeners. The goal set for the runtime path, a
p50 of at most 20 ms from the end of the quiet window, holds for the part
it owns (\`apply-p50-ms\`), not for the whole: the \`haproxy -c\` before it
takes longer on this machine than the goal allows.

## Server churn under load

$churn_edits server edits (workers added, removed, re-addressed,
re-weighted, drained, undrained; each applied, then 500 ms) while 48
clients make short connections through ingress HTTP and 16 clients hold
streams through the API frontend (4 for the whole run, as watches do; 12
for 2 to 20 s, then they reconnect), pinging every 100 ms. \`reloads\`: the
master's reload count; \`new-workers\`: worker processes started;
\`failed-connects\`: connections that got no answer; \`short-cut\`: short
connections cut after their answer (only a removed server's sessions may
be: removal ends them); \`streams-cut\`: streams that broke before their
client closed them; \`max-old-workers\`: the most old workers alive at once;
\`max-rss-MiB\`: HAProxy's total resident memory (master and every worker)
at its highest, sampled every 100 ms.

\`\`\`
$(lines "$tmp/churn.txt")
\`\`\`

On the reload path every edit forks a worker and leaves the previous one
running for as long as its longest stream (up to hard-stop-after, 15 min,
or mworker-max-reloads, 50 reloads, after which HAProxy ends it and cuts
its streams); each old worker holds its own memory.

## Failover: notify against hcloud floating-ip assign

The same fake Hetzner API (hetzner/hetznertest) with 30 ms added to every
request; medians of $failover_runs runs.

\`\`\`
$(cat "$tmp/failover.txt")
\`\`\`

## Footprint

\`hakgen-agent run\` watching a state of 3 control planes and 3 workers for
$footprint, with nothing changing (\`--reload none\`, the default 5 m
resync), its own memory and CPU time (\`/proc/PID\`); the binary built as
\`make deb\` builds it (\`-trimpath -ldflags '-s -w'\`, CGO off) and with its
symbols.

| | |
|---|---|
$(cat "$tmp/footprint.txt")
| binary, as packaged | $(size "$tmp/hakgen-agent") |
| binary, with symbols | $(size "$tmp/hakgen-agent-debug") |
EOF
} >"$out"
step "wrote $out"

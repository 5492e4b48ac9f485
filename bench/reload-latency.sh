#!/bin/sh
# Measures edit→applied latency of `hakgen-agent run`: from writing
# state.yaml (saved by rename, as editors do) to the first connection that a
# real master-worker HAProxy routes by the new configuration, over N edits.
# Reports p50/p95 and the share of the latency spent in `haproxy -c`.
#
#   bench/reload-latency.sh [-edits N] [-min-quiescence D] [-min-reload-interval D]
#
# Defaults: 30 edits, the agent's defaults (100ms, 1s); edits are spaced by
# the minimum reload interval, as edits by people are. The agent runs
# in-process (package agent, with the master-socket reloader) against an
# HAProxy the benchmark starts on loopback high ports; nothing leaves
# loopback and nothing needs root. Needs Go and Debian's haproxy.
set -eu
cd "$(dirname "$0")/.."
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || {
	echo "reload-latency.sh: haproxy not found (apt-get install haproxy)" >&2
	exit 1
}
edits=30
args=""
while [ $# -gt 0 ]; do
	case "$1" in
	-edits) edits=$2; shift 2 ;;
	-min-quiescence|-min-reload-interval|-poll) args="$args $1=$2"; shift 2 ;;
	*) echo "reload-latency.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
PATH="$PATH:/usr/sbin"
export PATH
# shellcheck disable=SC2086 # args holds separate flags
exec go test ./bench/reloadlatency -run '^$' -bench '^BenchmarkReloadLatency$' \
	-benchtime "${edits}x" -count 1 -timeout 30m $args

#!/bin/sh
# Measures keepalived's VRRP at a list of advert intervals on this machine,
# with the keepalived.conf hakgen-agent renders for the pair of a state
# (default: the README's quick start, testdata/quickstart.yaml): unforced
# MASTER transitions while idle, whether nopreempt holds when a stopped or
# cut-off MASTER comes back, and the time from the MASTER's links going
# down to the Floating IP on the BACKUP (min/median/max), with the load.
#
#   sudo bench/vrrp-floor.sh [-intervals 10ms,20ms,50ms,100ms,200ms,300ms,500ms,1s]
#                            [-idle 60s] [-returns 2] [-failovers 6] [-json FILE] [-keep]
#
# Needs root, Go, Debian's keepalived, iproute2 and util-linux (unshare).
# Everything runs in network namespaces it creates (named with a random
# suffix) and removes on exit; nothing touches the host's interfaces.
set -eu
cd "$(dirname "$0")/.."
PATH="$PATH:/usr/sbin:/sbin"
export PATH
for tool in keepalived ip unshare bash; do
	command -v "$tool" >/dev/null || { echo "vrrp-floor.sh: $tool not found (make deps installs the test packages)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
go build -trimpath -o "$tmp/hakgen-agent" ./cmd/hakgen-agent
go build -o "$tmp/vrrpfloor" ./bench/vrrpfloor
"$tmp/vrrpfloor" -agent "$tmp/hakgen-agent" "$@"

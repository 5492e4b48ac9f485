#!/bin/sh
# Compares `hakgen-agent notify MASTER` with Debian's
# `hcloud floating-ip assign ID SERVER` against one fake Hetzner API that
# adds 30 ms to every request: time until the assign request arrives,
# total time and number of requests, with the ratio.
#
#   bench/failover.sh [-runs N] [-latency 30ms] [-running-polls N]
#
# Needs Go and Debian's hcloud-cli. Nothing leaves loopback.
set -eu
cd "$(dirname "$0")/.."
command -v hcloud >/dev/null || { echo "failover.sh: hcloud not found (apt-get install hcloud-cli)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -trimpath -o "$tmp/hakgen-agent" ./cmd/hakgen-agent
go build -o "$tmp/failover-bench" ./bench/failover
"$tmp/failover-bench" -agent "$tmp/hakgen-agent" -hcloud "$(command -v hcloud)" "$@"

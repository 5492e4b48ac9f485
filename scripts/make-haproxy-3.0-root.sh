#!/bin/sh
# Builds a minimal Debian 13 (trixie) tree with its HAProxy 3.0 under DIR,
# so tests can run `haproxy -c` of a second HAProxy branch in a chroot:
# the generated haproxy.cfg must load on 2.6 (Debian 12's) and 3.0 alike.
# Tests run its haproxy in the chroot (`haproxy -c`, and master-worker
# instances on loopback, see haproxy/haproxytest); no service is started.
set -eu
dir=${1:?usage: make-haproxy-3.0-root.sh DIR}
if [ "$(id -u)" != 0 ]; then
	echo "make-haproxy-3.0-root: run as root" >&2
	exit 1
fi
command -v debootstrap >/dev/null || { echo "make-haproxy-3.0-root: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$(dirname "$dir")"
# Two tries: a mirror hiccup should not fail a test run.
ok=0
for try in 1 2; do
	rm -rf "$tmp"
	if debootstrap --variant=minbase --include=haproxy trixie "$tmp" http://deb.debian.org/debian >"$tmp.log" 2>&1; then
		ok=1
		break
	fi
	echo "make-haproxy-3.0-root: debootstrap failed (try $try):" >&2
	tail -20 "$tmp.log" >&2
done
if [ "$ok" != 1 ]; then
	rm -rf "$tmp" "$tmp.log"
	exit 1
fi
rm -f "$tmp.log"
rm -rf "$dir"
mv "$tmp" "$dir"
chroot "$dir" haproxy -v | head -1

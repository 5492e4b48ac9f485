#!/bin/sh
# Prints the Debian version of the package built from the git work tree in
# the current directory, derived from `git describe` and tags named vX.Y.Z:
#
#   HEAD tagged v1.2.3                  1.2.3
#   HEAD tagged v1.3.0-rc1              1.3.0~rc1      (sorts before 1.3.0)
#   5 commits after v1.2.3              1.2.3+git20261125.5.9f67d5e
#   no tag yet, 6 commits in history    0.0.0~git20261125.6.9f67d5e
#   tracked files changed               the above followed by +dirty
#
# The date is HEAD's commit date (UTC) and the count orders snapshots of
# one day, so a later commit always gets a higher version. Outside a git
# work tree the version is 0.0.0~nogit.
set -eu

if ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
	echo 0.0.0~nogit
	exit 0
fi

sha=$(git rev-parse --short=7 HEAD)
date=$(TZ=UTC git log -1 --date=format-local:%Y%m%d --format=%cd HEAD)
if desc=$(git describe --tags --long --match 'v[0-9]*' HEAD 2>/dev/null); then
	# v1.2.3-rc1-5-g9f67d5e: the tag may itself contain dashes.
	count=${desc%-g*}
	count=${count##*-}
	tag=${desc%-*-g*}
	base=$(printf '%s' "${tag#v}" | tr '-' '~')
	if [ "$count" = 0 ]; then
		version=$base
	else
		version=$base+git$date.$count.$sha
	fi
else
	version=0.0.0~git$date.$(git rev-list --count HEAD).$sha
fi

if ! git diff --quiet HEAD -- 2>/dev/null; then
	version=$version+dirty
fi

case $version in
[0-9]*) ;;
*)
	echo "version.sh: $version does not start with a digit (tags must be vX.Y.Z)" >&2
	exit 1
	;;
esac
if printf '%s' "$version" | grep -q '[^A-Za-z0-9.+~]'; then
	echo "version.sh: $version is not a Debian version" >&2
	exit 1
fi
echo "$version"

#!/bin/sh
# Installs the Debian packages the tests run for real, without starting
# their services on this machine (tests start their own instances).
set -eu
if [ "$(id -u)" != 0 ]; then
	echo "install-test-deps: run as root, or install: $*" >&2
	exit 1
fi
# policy-rc.d exit 101 tells invoke-rc.d not to start services during install.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	created_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@"
if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi

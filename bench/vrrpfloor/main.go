// Command vrrpfloor measures how keepalived's VRRP behaves on this machine
// at each of a list of advert intervals, with the keepalived.conf that
// hakgen-agent renders for the pair of a state (by default the README's
// quick start, testdata/quickstart.yaml). For each interval it builds two
// network namespaces joined by a bridge in a third, runs Debian's
// keepalived in each (a mount namespace of its own, with a private /run),
// and measures:
//
//   - idle: after the election, MASTER (and other) transitions and
//     notify_master_rx_lower_pri runs while nothing is done to the pair;
//     every one is unforced;
//   - nopreempt: the MASTER's keepalived stopped (SIGTERM), the BACKUP
//     takes over, the stopped one started again: it must stay BACKUP;
//   - failover: the MASTER's links set down inside its namespace; the
//     time until the Floating IP is on the BACKUP's interface (ip monitor)
//     and until its MASTER notify; then the links come up again and the
//     old MASTER must stay BACKUP.
//
// The rendered keepalived.conf runs as is except for its two notify
// commands (notify and notify_master_rx_lower_pri), which are replaced by
// a script that appends the time and keepalived's arguments to a log. The
// vrrp_script keeps running `hakgen-agent check --url`, answered in each
// namespace by a trivial HTTP 200 on the check's address.
//
// Usage (as root; see bench/vrrp-floor.sh, which builds hakgen-agent):
//
//	vrrpfloor -agent bin/hakgen-agent [-intervals 10ms,50ms,1s] [-idle 60s]
//	          [-returns 2] [-failovers 6] [-json FILE] [-keep]
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Command hakgen-agent keeps the HAProxy pair in front of a Kubernetes
// cluster in line with /etc/hakgen/state.yaml. See `hakgen-agent --help`.
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

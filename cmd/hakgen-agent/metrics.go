package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/discovery"
	"github.com/hakgen/hakgen/failover"
	"github.com/hakgen/hakgen/metrics"
)

// DefaultMetricsListen is where run serves its own metrics: the loopback,
// so nothing outside the node sees them until the operator says where
// (e.g. --metrics-listen 10.0.0.5:9405, the node's private address).
const DefaultMetricsListen = "127.0.0.1:9405"

// checkMetricsListen refuses a listen address that is not ADDRESS:PORT
// with an IP address, and a wildcard without allowWildcard: the metrics
// name servers and addresses of the cluster.
func checkMetricsListen(listen string, allowWildcard bool) error {
	if listen == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usageErr("--metrics-listen %q is not ADDRESS:PORT", listen)
	}
	a, err := netip.ParseAddr(host)
	if host != "" && err != nil {
		return usageErr("--metrics-listen %q: %q is not an IP address", listen, host)
	}
	if (host == "" || a.Unmap().IsUnspecified()) && !allowWildcard {
		return usageErr("--metrics-listen %q listens on every address: give the node's private address, or --metrics-allow-wildcard", listen)
	}
	return nil
}

// serveMetrics serves the agent's metrics on --metrics-listen until the
// returned function is called, which stops the server and waits for it.
// An empty --metrics-listen serves nothing.
func serveMetrics(o runOptions, log *zap.Logger) (stop func(), err error) {
	if o.metricsListen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", o.metricsListen)
	if err != nil {
		return nil, envErr(fmt.Errorf("--metrics-listen: %w", err))
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(metrics.Sources{StatusFile: o.status, Store: failover.NewStore(o.stateDir), Discovery: discovery.StatusPath(o.status)}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("serving metrics stopped", zap.Error(err))
		}
	}()
	log.Info("serving metrics", zap.String("listen", ln.Addr().String()))
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}

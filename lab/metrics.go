package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"time"
)

// metricsURL is where an agent serves its metrics with its defaults
// (run's --metrics-listen), inside its load balancer.
const metricsURL = "http://127.0.0.1:9405/metrics"

// Metric scrapes the agent's /metrics inside lb, as a Prometheus on the
// node would, and returns the value of the series written exactly as
// series (name{label="value",...}); an error when it is not served.
func (lb *LB) Metric(ctx context.Context, series string) (float64, error) {
	tr := &http.Transport{DialContext: lb.Dialer(netip.Addr{}), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", lb.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s: %s %v", lb.Name, metricsURL, resp.Status, err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0, fmt.Errorf("%s: %s does not serve %s", lb.Name, metricsURL, series)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

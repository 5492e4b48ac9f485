package lab

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// statsPort is the port of stats.bind in the lab's state.
const statsPort = 8404

// ServerStatus returns the status HAProxy's stats page shows for each
// server of backend (UP, DOWN, ...), asked from the private segment.
func (lb *LB) ServerStatus(ctx context.Context, backend string) (map[string]string, error) {
	rows, err := lb.statsCSV(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range rows {
		if r["pxname"] == backend && r["svname"] != "BACKEND" && r["svname"] != "FRONTEND" {
			out[r["svname"]] = r["status"]
		}
	}
	return out, nil
}

// FrontendStat is one frontend's connections on HAProxy's stats page.
type FrontendStat struct {
	Current, Max, Limit int // scur, smax, slim
}

// Frontends returns the connections of every frontend, asked from the
// private segment.
func (lb *LB) Frontends(ctx context.Context) (map[string]FrontendStat, error) {
	rows, err := lb.statsCSV(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]FrontendStat{}
	for _, r := range rows {
		if r["svname"] == "FRONTEND" {
			var f FrontendStat
			f.Current, _ = strconv.Atoi(r["scur"])
			f.Max, _ = strconv.Atoi(r["smax"])
			f.Limit, _ = strconv.Atoi(r["slim"])
			out[r["pxname"]] = f
		}
	}
	return out, nil
}

// statsCSV reads HAProxy's CSV statistics from the stats frontend.
func (lb *LB) statsCSV(ctx context.Context) ([]map[string]string, error) {
	tr := &http.Transport{DialContext: lb.lab.Backends.Dialer(lb.lab.Plan.ControlPlanes[0].Addr), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(lb.Plan.Private.String(), strconv.Itoa(statsPort)) + "/;csv"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseStatsCSV(resp.Body)
}

// parseStatsCSV reads HAProxy's CSV statistics: one map per row, from
// column name to value.
func parseStatsCSV(r io.Reader) ([]map[string]string, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("reading HAProxy's CSV: %v", err)
	}
	names := make([]string, len(rows[0]))
	for i, name := range rows[0] {
		names[i] = strings.TrimPrefix(strings.TrimSpace(name), "# ")
	}
	var out []map[string]string
	for _, row := range rows[1:] {
		m := map[string]string{}
		for i, v := range row {
			if i < len(names) {
				m[names[i]] = v
			}
		}
		out = append(out, m)
	}
	return out, nil
}

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
	return parseStatsCSV(resp.Body, backend)
}

// parseStatsCSV reads HAProxy's CSV statistics and returns the status of
// each server of backend.
func parseStatsCSV(r io.Reader, backend string) (map[string]string, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("reading HAProxy's CSV: %v", err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(strings.TrimSpace(name), "# ")] = i
	}
	px, sv, st := col["pxname"], col["svname"], col["status"]
	out := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) > st && row[px] == backend && row[sv] != "BACKEND" && row[sv] != "FRONTEND" {
			out[row[sv]] = row[st]
		}
	}
	return out, nil
}

package state

// Frontends and what their connection shares are, for FrontendMaxConn.
const (
	FrontendAPIServer = "apiServer"
	FrontendHTTP      = "http"
	FrontendHTTPS     = "https"
	FrontendExtraPort = "extraPort"
)

// FrontendMaxConn is the connection limit of one public frontend: its
// share of haproxy.maxconn (for an extra port, an even part of the extra
// ports' share), at least 1. The shares add up to at most haproxy.maxconn,
// so one frontend flooded cannot take another's connections, nor the
// stats frontend's, which has its own on top.
func (s *State) FrontendMaxConn(frontend string) int {
	h := s.HAProxy
	share := 0
	switch frontend {
	case FrontendAPIServer:
		share = h.Shares.APIServer
	case FrontendHTTP:
		share = h.Shares.HTTP
	case FrontendHTTPS:
		share = h.Shares.HTTPS
	case FrontendExtraPort:
		share = h.Shares.ExtraPorts
	}
	n := h.MaxConn * share / 100
	if frontend == FrontendExtraPort && len(s.ExtraPorts) > 0 {
		n /= len(s.ExtraPorts)
	}
	return max(n, 1)
}

// shares checks that every share is a percentage and that the shares of
// the frontends the state has add up to at most 100.
func (v *validator) shares() {
	sh := v.s.HAProxy.Shares
	sum, used := sh.APIServer, []string{"apiServer"}
	if v.s.HAProxy.MaxConn < 1 {
		return // reported by haproxy()
	}
	for _, f := range []struct {
		name  string
		share int
		on    bool
	}{
		{"apiServer", sh.APIServer, true},
		{"http", sh.HTTP, len(v.s.Workers) > 0},
		{"https", sh.HTTPS, len(v.s.Workers) > 0},
		{"extraPorts", sh.ExtraPorts, len(v.s.ExtraPorts) > 0},
	} {
		if f.share < 1 || f.share > 100 {
			v.errorf("haproxy.shares."+f.name, "%d is out of range (expected a percentage of haproxy.maxconn, 1 to 100)", f.share)
		}
		if f.on && f.name != "apiServer" {
			sum += f.share
			used = append(used, f.name)
		}
	}
	if sum > 100 {
		v.errorf("haproxy.shares", "the shares of %v add up to %d%% (expected at most 100: together they may not hold more than haproxy.maxconn)", used, sum)
	}
	if n := v.s.HAProxy.MaxConnPerSource; n < 0 || n > v.s.HAProxy.MaxConn {
		v.errorf("haproxy.maxConnPerSource", "%d is out of range (expected 0 for no limit, or 1 to haproxy.maxconn)", n)
	}
}

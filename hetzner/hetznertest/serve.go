package hetznertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// handlerFunc answers one request; it returns the status and the body.
type handlerFunc func(r *http.Request) (int, []byte)

// route is the endpoint and handler for one request.
func (f *Fake) route(r *http.Request) (Endpoint, handlerFunc) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/hetzner/v1/metadata/"); ok && r.Method == http.MethodGet {
		return Metadata, func(r *http.Request) (int, []byte) { return f.metadata(r, rest) }
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1"), "/"), "/")
	if ep, h, ok := f.routeNetworks(r, parts); ok {
		return ep, h
	}
	if ep, h, ok := f.routeAliasIPs(r, parts); ok {
		return ep, h
	}
	get := r.Method == http.MethodGet
	switch {
	case len(parts) == 1 && parts[0] == "floating_ips" && r.Method == http.MethodPost:
		return CreateFloatingIP, f.createFloatingIP
	case len(parts) == 4 && parts[0] == "floating_ips" && parts[2] == "actions" && parts[3] == "assign" && r.Method == http.MethodPost:
		return Assign, func(r *http.Request) (int, []byte) { return f.assign(r, parts[1]) }
	case len(parts) == 4 && parts[0] == "floating_ips" && parts[2] == "actions" && get:
		return GetAction, func(*http.Request) (int, []byte) { return f.getAction(parts[3]) }
	case len(parts) == 2 && parts[0] == "floating_ips" && get:
		return GetFloatingIP, func(*http.Request) (int, []byte) { return f.getFloatingIP(parts[1]) }
	case len(parts) == 1 && parts[0] == "floating_ips" && get:
		return ListFloatingIPs, f.listFloatingIPs
	case len(parts) == 2 && parts[0] == "servers" && get:
		return GetServer, func(*http.Request) (int, []byte) { return f.getServer(parts[1]) }
	case len(parts) == 1 && parts[0] == "servers" && get:
		return ListServers, f.listServers
	case len(parts) == 2 && parts[0] == "actions" && get:
		return GetAction, func(*http.Request) (int, []byte) { return f.getAction(parts[1]) }
	case len(parts) == 1 && parts[0] == "actions" && get:
		return ListActions, f.listActions
	case len(parts) == 4 && parts[0] == "servers" && parts[2] == "actions" && parts[3] == "attach_to_network" && r.Method == http.MethodPost:
		return AttachToNetwork, func(r *http.Request) (int, []byte) { return f.attachToNetwork(r, parts[1]) }
	case len(parts) == 2 && parts[0] == "servers" && r.Method == http.MethodPut:
		return UpdateServer, func(r *http.Request) (int, []byte) { return f.updateServer(r, parts[1]) }
	case len(parts) == 2 && parts[0] == "networks" && get:
		return GetNetwork, func(*http.Request) (int, []byte) { return f.getNetwork(parts[1]) }
	case len(parts) == 1 && parts[0] == "networks" && get:
		return ListNetworks, f.networkList
	}
	return Unknown, func(*http.Request) (int, []byte) {
		return apiError(http.StatusNotFound, "not_found", "no such endpoint in the fake")
	}
}

// serve logs the request, applies faults, latency, authentication and
// rate-limit headers, then answers.
func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	// Read the body first: the server notices a client that went away
	// only once the body has been consumed.
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	ep, h := f.route(r)
	seq := f.logRequest(Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Endpoint: ep,
		Time: time.Now(), Remote: remoteAddr(r),
		Authorized: strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "),
	})
	fault, delay := f.takeFault(ep)
	if !fault.set() {
		fault = f.takeResourceFault(ep, r.URL.Path)
		delay += fault.Delay
	}
	if fault.Do != nil {
		fault.Do(f)
	}
	if !sleep(r, delay) {
		return // the client went away; status stays 0
	}
	if fault.Drop {
		drop(w)
		return
	}
	status, body := f.answer(r, ep, fault, h)
	if ep != Metadata {
		f.rateLimitHeaders(w.Header(), fault.Exhausted)
	}
	for k, vs := range fault.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", contentType(ep, body))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	f.setStatus(seq, status)
}

func (f *Fake) answer(r *http.Request, ep Endpoint, fault Fault, h handlerFunc) (int, []byte) {
	if ep != Metadata && !f.authorized(r) {
		return apiError(http.StatusUnauthorized, "unauthorized", "unable to authenticate")
	}
	if fault.Status != 0 {
		if fault.Code == "" {
			return fault.Status, []byte(http.StatusText(fault.Status) + "\n")
		}
		return apiError(fault.Status, fault.Code, fault.Message)
	}
	return h(r)
}

func (f *Fake) authorized(r *http.Request) bool {
	f.mu.Lock()
	token := f.token
	f.mu.Unlock()
	auth := r.Header.Get("Authorization")
	if token == "" {
		return strings.HasPrefix(auth, "Bearer ") && len(auth) > len("Bearer ")
	}
	return auth == "Bearer "+token
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// sleep waits d unless the client goes away first; it reports whether
// the client is still there.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// remoteAddr is the address the request came from (invalid when it
// cannot be parsed).
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func contentType(ep Endpoint, body []byte) string {
	if ep == Metadata || len(body) == 0 || body[0] != '{' {
		return "text/plain; charset=utf-8"
	}
	return "application/json"
}

func apiError(status int, code, message string) (int, []byte) {
	return jsonBody(status, schema.ErrorResponse{Error: schema.Error{
		Code: code, Message: message, DetailsRaw: json.RawMessage(`{}`),
	}})
}

func jsonBody(status int, v any) (int, []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		return http.StatusInternalServerError, []byte(err.Error())
	}
	return status, b
}

package agenttest

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hakgen/hakgen/haproxy/haproxytest"
)

// ioTimeout bounds one connection of the servers and clients here.
const ioTimeout = 5 * time.Second

// maxPortTries bounds the search for a port free on several addresses.
const maxPortTries = 50

// listenSamePort listens on 127.0.0.2, 127.0.0.3, ... (n addresses) on one
// port, as a state's server group shares one backend port. The whole
// 127.0.0.0/8 range is loopback on Linux.
func listenSamePort(t testing.TB, n int) (int, []net.Listener) {
	t.Helper()
	for range maxPortTries {
		first, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Fatalf("agenttest: listening: %v", err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for i := 1; i < n; i++ {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip(i), strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == n {
			return port, lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("agenttest: no port free on %d loopback addresses after %d tries", n, maxPortTries)
	return 0, nil
}

// ip is the i-th backend address: 127.0.0.2 for 0.
func ip(i int) string { return fmt.Sprintf("127.0.0.%d", i+2) }

// TCPBackends starts one server per name, all on one port, on 127.0.0.2,
// 127.0.0.3, ... in order. Each answers every connection with its name and
// a newline, then closes it (haproxytest.Ask reads that). It returns the
// port and the addresses; t.Cleanup stops the servers.
func TCPBackends(t testing.TB, names ...string) (int, []string) {
	t.Helper()
	port, lns := listenSamePort(t, len(names))
	var wg sync.WaitGroup
	addrs := make([]string, len(names))
	for i, ln := range lns {
		addrs[i] = ip(i)
		name := names[i]
		wg.Go(func() { haproxytest.ServeName(ln, name, &wg) })
	}
	t.Cleanup(func() {
		for _, ln := range lns {
			ln.Close()
		}
		wg.Wait()
	})
	return port, addrs
}

// TLSBackends starts one HTTPS server per name, like TCPBackends: GET
// /readyz answers 200 "ok" (what HAProxy's API health check asks), any
// other path answers 200 with the server's name and a newline. The
// certificate is httptest's self-signed one.
func TLSBackends(t testing.TB, names ...string) (int, []string) {
	t.Helper()
	port, lns := listenSamePort(t, len(names))
	addrs := make([]string, len(names))
	for i, ln := range lns {
		addrs[i] = ip(i)
		name := names[i]
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/readyz" {
				io.WriteString(w, "ok")
				return
			}
			io.WriteString(w, name+"\n")
		}))
		srv.Listener.Close()
		srv.Listener = ln
		// HAProxy's TCP checks connect and close without a handshake.
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		t.Cleanup(srv.Close)
	}
	return port, addrs
}

// AskTLS makes one HTTPS request to addr on a new connection (through
// HAProxy, which passes TLS through) and returns the body: the name of the
// TLSBackends server that answered. The certificate is not verified. Each
// call is bounded by 5 s.
func AskTLS(addr string) (string, error) {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // httptest's self-signed certificate
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: ioTimeout}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return string(body), err
}

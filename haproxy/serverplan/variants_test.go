package serverplan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
	"github.com/hakgen/hakgen/render"
	"github.com/hakgen/hakgen/state"
)

// TestApplyRenderedVariants adds and removes a control plane and a worker
// in every kind of backend the template renders (API with the readyz
// check over TLS, plain and PROXY-protocol ingress, an extra port), on a
// real HAProxy running the production file: HAProxy must take `add
// server` with the keywords the plan spells out for each. The servers
// need not answer (their checks may fail): Apply checks administrative
// state, addresses and weights, not health.
func TestApplyRenderedVariants(t *testing.T) {
	// The template's default-server, init-addr left out: HAProxy 2.6 takes
	// every one of these keywords on `add server`.
	defaults := "inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2 slowstart 10s"
	down := "check on-marked-down shutdown-sessions "
	for _, v := range []struct {
		name, api, ingress string
		apiAdd, workerAdd  string // the keywords of add server
	}{
		{"readyz", "healthCheck: readyz", "proxyProtocol: false",
			down + "verify none " + defaults, down + defaults},
		{"proxy-protocol", "healthCheck: tcp", "proxyProtocol: true",
			down + defaults, down + "send-proxy-v2 check-send-proxy " + defaults},
	} {
		t.Run(v.name, func(t *testing.T) {
			haproxytest.EachBuild(t, func(t *testing.T, b haproxytest.Build) {
				ports := make([]int, 5)
				for i := range ports {
					ports[i] = haproxytest.FreePort(t)
				}
				dir := b.TempDir(t)
				admin := filepath.Join(dir, "admin.sock")
				renderCfg := func(cps, workers int) []byte {
					var y strings.Builder
					fmt.Fprintf(&y, "cluster: variants\ncontrolPlanes:\n")
					for i := range cps {
						fmt.Fprintf(&y, "  - {name: cp%d, address: 127.0.0.%d}\n", i+1, 10+i)
					}
					y.WriteString("workers:\n")
					for i := range workers {
						fmt.Fprintf(&y, "  - {name: w%d, address: 127.0.0.%d}\n", i+1, 20+i)
					}
					fmt.Fprintf(&y, "apiServer: {port: %d, backendPort: 16443, %s}\n", ports[0], v.api)
					fmt.Fprintf(&y, "ingress:\n  http: {port: %d, backendPort: 10080}\n  https: {port: %d, backendPort: 10443}\n  %s\n", ports[1], ports[2], v.ingress)
					fmt.Fprintf(&y, "extraPorts:\n  - {name: sup, port: %d, backendPort: 19345, backends: workers}\n", ports[3])
					fmt.Fprintf(&y, "stats: {bind: 127.0.0.1:%d}\nhaproxy: {maxconn: 50, hardStopAfter: 5s}\n", ports[4])
					s, _, err := state.Parse("variants.yaml", []byte(y.String()))
					if err != nil {
						t.Fatalf("%v\n%s", err, y.String())
					}
					cfg, err := render.HAProxy(s)
					if err != nil {
						t.Fatal(err)
					}
					local, err := b.Localize(cfg, admin)
					if err != nil {
						t.Fatal(err)
					}
					return local
				}
				cfgPath := filepath.Join(dir, "haproxy.cfg")
				running := renderCfg(3, 2)
				if err := os.WriteFile(cfgPath, running, 0o644); err != nil {
					t.Fatal(err)
				}
				in := b.Start(t, cfgPath)
				ctx := testContext(t)
				for _, step := range []struct {
					cps, workers int
					plan         string
				}{
					{4, 3, "kube-api: +cp4; ingress-http: +w3; ingress-https: +w3; extra-sup: +w3"},
					{3, 2, "kube-api: -cp4; ingress-http: -w3; ingress-https: -w3; extra-sup: -w3"},
				} {
					next := renderCfg(step.cps, step.workers)
					d := serverplan.Decide(running, next)
					if d.Kind != serverplan.ServersOnly || d.Plan.String() != step.plan {
						t.Fatalf("decision %v %q (%s), want %s", d.Kind, d.Plan, d.Reason, step.plan)
					}
					for _, b := range d.Plan.Backends {
						want := v.workerAdd
						switch b.Backend {
						case "kube-api":
							want = v.apiAdd
						case "extra-sup": // extra ports never send the PROXY protocol
							want = down + defaults
						}
						for _, a := range b.Add {
							if got := strings.Join(a.Keywords, " "); got != want {
								t.Errorf("%s/%s: add server keywords %q, want %q", b.Backend, a.Name, got, want)
							}
						}
					}
					if err := os.WriteFile(cfgPath, next, 0o644); err != nil {
						t.Fatal(err)
					}
					w, err := haproxy.CurrentWorker(ctx, in.Master)
					if err != nil {
						t.Fatal(err)
					}
					if err := (serverplan.Executor{}).Apply(ctx, w, d.Plan); err != nil {
						t.Fatalf("%s: %v", step.plan, err)
					}
					running = next
				}
			})
		})
	}
}

package serverplan_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/serverplan"
)

// savedState is `show servers state` as HAProxy 2.6 writes it: cp1 drained
// on the CLI (admin 8), w1 DOWN (op 0), w3 given by a DNS name, w4 added
// at runtime and not enabled yet (maintenance, checks disabled), w5 with
// its checks disabled.
const savedState = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
2 kube-api 1 cp1 10.0.0.11 2 8 1 1 6 6 3 4 6 0 0 0 - 6443 - 0 0 - - 0
2 kube-api 2 cp2 10.0.0.12 2 0 1 1 10 6 3 4 6 0 0 0 - 6443 - 0 0 - - 0
2 kube-api 3 cp3 fd00::13 2 0 1 1 10 6 3 4 6 0 0 0 - 6443 - 0 0 - - 0
3 ingress-http 1 w1 10.0.0.21 0 0 1 1 5 6 3 0 14 0 0 0 - 80 - 0 0 - - 0
3 ingress-http 2 w2 10.0.0.22 2 8 1 1 9 8 2 4 6 0 0 0 - 80 - 0 0 - - 0
3 ingress-http 3 w3 10.0.0.23 2 0 1 1 10 6 3 4 6 0 0 0 w3.example.com 80 - 0 0 - - 0
3 ingress-http 4 w4 10.0.0.24 0 1 1 1 3 1 0 0 2 0 0 0 - 80 - 0 0 - - 0
3 ingress-http 5 w5 10.0.0.25 2 0 1 1 3 1 0 0 2 0 0 0 - 80 - 0 0 - - 0

`

// stateConfig is a configuration for savedState, with edits.
func stateConfig(edits ...string) []byte {
	cfg := `defaults
    mode tcp
    default-server inter 1s fall 3 rise 2
backend kube-api
    balance leastconn
    server cp1 10.0.0.11:6443 check
    server cp2 10.0.0.12:6443 check
    server cp3 [fd00:0::13]:6443 check
backend ingress-http
    balance leastconn
    server w1 10.0.0.21:80 check
    server w2 10.0.0.22:80 check
    server w3 w3.example.com:80 check
    server w4 10.0.0.24:80 check
    server w5 10.0.0.25:80 check
`
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(cfg, edits[i]) {
			panic("stateConfig: no " + edits[i])
		}
		cfg = strings.Replace(cfg, edits[i], edits[i+1], 1)
	}
	return []byte(cfg)
}

// carried runs CarryServerState and returns the servers of the result,
// as "backend/name addr:port op admin uweight/iweight".
func carried(t *testing.T, cfg []byte) ([]string, []string) {
	t.Helper()
	out, notes, err := serverplan.CarryServerState([]byte(savedState), cfg)
	if err != nil {
		t.Fatal(err)
	}
	states, err := haproxy.ParseServersState(string(out))
	if err != nil {
		t.Fatalf("the rewritten file does not parse as a server-state file: %v\n%s", err, out)
	}
	var got []string
	for _, s := range states {
		got = append(got, s.Backend+"/"+s.Name+" "+s.Addr.String()+":"+strconv.Itoa(s.Port)+" "+s.Op.String()+" "+s.Admin.String()+" "+strconv.Itoa(s.Weight)+"/"+strconv.Itoa(s.InitialWeight))
	}
	return got, notes
}

func TestCarryServerState(t *testing.T) {
	all := []string{
		"kube-api/cp1 10.0.0.11:6443 running drain 1/1",
		"kube-api/cp2 10.0.0.12:6443 running ready 1/1",
		"kube-api/cp3 fd00::13:6443 running ready 1/1",
		"ingress-http/w1 10.0.0.21:80 stopped ready 1/1",
		"ingress-http/w2 10.0.0.22:80 running drain 1/1",
		"ingress-http/w3 10.0.0.23:80 running ready 1/1",
	}
	cutShort := []string{"ingress-http/w4: in maintenance: starts from the new configuration",
		"ingress-http/w5: health checks disabled: starts from the new configuration"}
	without := func(drop string, replace ...string) []string {
		var out []string
		for _, s := range all {
			if strings.HasPrefix(s, drop+" ") {
				out = append(out, replace...)
				continue
			}
			out = append(out, s)
		}
		return out
	}
	for _, c := range []struct {
		name  string
		cfg   []byte
		want  []string
		notes []string
	}{
		{"nothing changed: health and CLI drains kept", stateConfig(), all, nil},
		{"port changed: line dropped",
			stateConfig("server cp2 10.0.0.12:6443", "server cp2 10.0.0.12:16443"),
			without("kube-api/cp2"), []string{"kube-api/cp2: 10.0.0.12 port 6443 -> 10.0.0.12:16443: starts from the new configuration"}},
		{"address changed on a DOWN server: line dropped",
			stateConfig("server w1 10.0.0.21:80", "server w1 10.0.0.31:80"),
			without("ingress-http/w1"), []string{"ingress-http/w1: 10.0.0.21 port 80 -> 10.0.0.31:80: starts from the new configuration"}},
		{"drained server re-addressed: its drain ends",
			stateConfig("server cp1 10.0.0.11:6443", "server cp1 10.0.0.41:6443"),
			without("kube-api/cp1"), []string{"kube-api/cp1: 10.0.0.11 port 6443 -> 10.0.0.41:6443: starts from the new configuration"}},
		{"weight changed: weights rewritten, CLI drain cleared, health kept",
			stateConfig("server w2 10.0.0.22:80 check", "server w2 10.0.0.22:80 check weight 3"),
			without("ingress-http/w2", "ingress-http/w2 10.0.0.22:80 running ready 3/3"),
			[]string{"ingress-http/w2: weight 1 -> 3, drain cleared"}},
		{"drained in the file (weight 0)",
			stateConfig("server cp2 10.0.0.12:6443 check", "server cp2 10.0.0.12:6443 check weight 0"),
			without("kube-api/cp2", "kube-api/cp2 10.0.0.12:6443 running ready 0/0"), []string{"kube-api/cp2: weight 1 -> 0"}},
		{"weight from default-server",
			stateConfig("default-server inter 1s", "default-server weight 2 inter 1s", "server w1 10.0.0.21:80 check", "server w1 10.0.0.21:80 check weight 1"),
			[]string{"kube-api/cp1 10.0.0.11:6443 running ready 2/2", "kube-api/cp2 10.0.0.12:6443 running ready 2/2",
				"kube-api/cp3 fd00::13:6443 running ready 2/2", "ingress-http/w1 10.0.0.21:80 stopped ready 1/1",
				"ingress-http/w2 10.0.0.22:80 running ready 2/2", "ingress-http/w3 10.0.0.23:80 running ready 2/2"},
			[]string{"kube-api/cp1: weight 1 -> 2, drain cleared", "kube-api/cp2: weight 1 -> 2", "kube-api/cp3: weight 1 -> 2",
				"ingress-http/w2: weight 1 -> 2, drain cleared", "ingress-http/w3: weight 1 -> 2"}},
		{"server removed: line dropped",
			stateConfig("    server cp3 [fd00:0::13]:6443 check\n", ""),
			without("kube-api/cp3"), []string{"kube-api/cp3: not in the new configuration"}},
		{"DNS name changed: line dropped",
			stateConfig("w3.example.com:80", "w3.example.org:80"),
			without("ingress-http/w3"), []string{"ingress-http/w3: name w3.example.com port 80 -> w3.example.org:80: starts from the new configuration"}},
		{"DNS name's port changed: line dropped",
			stateConfig("w3.example.com:80", "w3.example.com:8080"),
			without("ingress-http/w3"), []string{"ingress-http/w3: name w3.example.com port 80 -> w3.example.com:8080: starts from the new configuration"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, notes := carried(t, c.cfg)
			if !slices.Equal(got, c.want) {
				t.Errorf("servers:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			if want := append(c.notes, cutShort...); !slices.Equal(notes, want) {
				t.Errorf("notes %q, want %q", notes, want)
			}
		})
	}
}

func TestCarryServerStateRefusesOtherAnswers(t *testing.T) {
	for _, saved := range []string{"Can't find backend.\n", "1\n", "1\n# be_id be_name srv_id\n2 b 1\n"} {
		if _, _, err := serverplan.CarryServerState([]byte(saved), stateConfig()); err == nil {
			t.Errorf("%q: no error", saved)
		}
	}
}

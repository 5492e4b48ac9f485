package lab_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/lab"
)

// TestDayTwoStatesAreTheREADMEs: the dual-stack, active-active and
// private-vip scenarios run the README's day-two states: its fragments in
// the quick start, with only the lab's haproxy.maxconn added.
func TestDayTwoStatesAreTheREADMEs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := func(name string) string {
		m := regexp.MustCompile("(?s)<!-- " + name + ":start -->\n```yaml\n(.*?)```\n<!-- " + name + ":end -->").FindStringSubmatch(string(data))
		if m == nil {
			t.Fatalf("README.md has no %s block", name)
		}
		return m[1]
	}
	quick, err := lab.ReadQuickStart()
	if err != nil {
		t.Fatal(err)
	}
	line := "floatingIP: {id: 4711, address: 203.0.113.10, tokenFile: /etc/hakgen/hcloud-token, interface: eth0}\n"
	for _, c := range []struct {
		name  string
		state func([]byte) ([]byte, error)
		want  string
	}{
		{"dualstack-state", lab.DualStackState, strings.Replace(string(quick), line, block("dualstack-state"), 1)},
		{"activeactive-state", lab.ActiveActiveState, strings.Replace(string(quick), line, block("activeactive-state"), 1)},
		{"privatevip-state", lab.PrivateVIPState, strings.Replace(string(quick), line, line+block("privatevip-state"), 1)},
	} {
		got, err := c.state(quick)
		if err != nil {
			t.Fatal(err)
		}
		if want := string(lab.LabState([]byte(c.want))); string(got) != want {
			t.Errorf("%s: the lab's state differs from the README's:\n%s\nwant:\n%s", c.name, got, want)
		}
	}
}

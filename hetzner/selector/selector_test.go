package selector_test

import (
	"strings"
	"testing"

	"github.com/hakgen/hakgen/hetzner/selector"
)

// TestMatches evaluates every operator against labels that have the key
// with the value, with another value, and not at all.
func TestMatches(t *testing.T) {
	with := map[string]string{"role": "worker", "cluster": "prod"}
	other := map[string]string{"role": "control-plane", "cluster": "prod"}
	without := map[string]string{"cluster": "prod"}
	for _, c := range []struct {
		sel                 string
		with, other, absent bool
	}{
		{"role=worker", true, false, false},
		{"role==worker", true, false, false},
		{"role!=worker", false, true, true},
		{"role in (worker,ingress)", true, false, false},
		{"role in (ingress, worker)", true, false, false},
		{"role notin (worker,ingress)", false, true, true},
		{"role", true, true, false},
		{"!role", false, false, true},
		{"cluster=prod,role=worker", true, false, false},
		{"cluster=prod, !role", false, false, true},
		{"cluster=staging,role=worker", false, false, false},
		{"role in (worker),cluster notin (staging)", true, false, false},
		{" role = worker ", true, false, false},
		{"role!=", true, true, true},
		{"role=", false, false, false},
	} {
		s, err := selector.Parse(c.sel)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.sel, err)
			continue
		}
		for _, m := range []struct {
			labels map[string]string
			want   bool
			what   string
		}{{with, c.with, "role=worker"}, {other, c.other, "role=control-plane"}, {without, c.absent, "no role"}} {
			if got := s.Matches(m.labels); got != m.want {
				t.Errorf("%q on a server with %s: %v, want %v", c.sel, m.what, got, m.want)
			}
		}
	}
}

// TestPrefixedKeys: keys with a DNS prefix, as hcloud's own tools set
// (hcloud/node-group), are read whole.
func TestPrefixedKeys(t *testing.T) {
	s, err := selector.Parse("hcloud/node-group=workers,example.com/pool in (a,b)")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s[0].Key != "hcloud/node-group" || s[1].Key != "example.com/pool" || s[1].Op != selector.In {
		t.Fatalf("parsed %#v", s)
	}
	if !s.Matches(map[string]string{"hcloud/node-group": "workers", "example.com/pool": "b"}) {
		t.Error("does not match labels it names")
	}
	if s.Matches(map[string]string{"node-group": "workers", "pool": "b"}) {
		t.Error("matches labels without the prefix")
	}
}

// TestString writes what Parse reads back to the same selector.
func TestString(t *testing.T) {
	for _, text := range []string{"a=b", "a!=b", "a in (b,c)", "a notin (b)", "a", "!a", "a=b,!c,d in (e,f)"} {
		s, err := selector.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != text {
			t.Errorf("String of %q: %q", text, got)
		}
	}
}

// TestParseErrors: each malformed selector is refused with a message
// naming the part at fault.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ sel, want string }{
		{"", "empty label selector"},
		{"  ", "empty label selector"},
		{"role=worker,", "empty requirement"},
		{",role=worker", "empty requirement"},
		{"role in (a,b", "'(' without ')'"},
		{"role in a,b)", "')' without '('"},
		{"role in ((a))", "nested parentheses"},
		{"role in ()", `requirement "role in ()": "" is not a label value`},
		{"role in (a,,b)", `"" is not a label value`},
		{"ro le=worker", `"ro le" is not a label key`},
		{"role=work er", `"work er" is not a label value`},
		{"-role=worker", `"-role" is not a label key`},
		{"Example.COM/role=x", `"Example.COM" is not a label key prefix`},
		{"!role=worker", `"!role" is not a label key`},
		{"role=" + strings.Repeat("v", 64), "is not a label value"},
		{strings.Repeat("a=b,", 300) + "a=b", "more than the 1024 allowed"},
	} {
		_, err := selector.Parse(c.sel)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q): %v, want an error with %q", c.sel, err, c.want)
		}
	}
}

//go:build linux

package sdbox

import (
	"strings"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // substring of the error; empty for valid options
	}{
		{"zero", Options{}, ""},
		{"full", Options{
			Units:    []string{"haproxy.service"},
			Tmpfs:    []string{"/etc/hakgen", "/run/x"},
			Overlays: []string{"/usr/local"},
			Binds:    []Bind{{Source: "/tmp/bin", Target: "/run/bin", ReadOnly: true}},
		}, ""},
		{"unit with slash", Options{Units: []string{"../x.service"}}, `units: "../x.service" is not a unit file name`},
		{"relative tmpfs", Options{Tmpfs: []string{"run/x"}}, `tmpfs: "run/x" is not a clean absolute path`},
		{"unclean tmpfs", Options{Tmpfs: []string{"/run/../etc"}}, "not a clean absolute path"},
		{"root tmpfs", Options{Tmpfs: []string{"/"}}, "not a clean absolute path"},
		{"tmpfs on /run", Options{Tmpfs: []string{"/run"}}, `tmpfs: "/run" is mounted by the harness already`},
		{"tmpfs below /dev", Options{Tmpfs: []string{"/dev/x"}}, `tmpfs: "/dev/x" is managed by the harness`},
		{"overlay on state", Options{Overlays: []string{"/run/sdbox"}}, "managed by the harness"},
		{"overlay with comma", Options{Overlays: []string{"/a,b"}}, "cannot be passed to overlayfs"},
		{"relative bind source", Options{Binds: []Bind{{Source: "bin", Target: "/run/bin"}}}, `binds: source "bin" is not absolute`},
		{"bind on /proc", Options{Binds: []Bind{{Source: "/x", Target: "/proc/x"}}}, "managed by the harness"},
		{"negative timeout", Options{BootTimeout: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestOptionsValidateReportsEveryProblem(t *testing.T) {
	err := Options{Tmpfs: []string{"a"}, Units: []string{""}}.validate()
	if err == nil || !strings.Contains(err.Error(), "tmpfs:") || !strings.Contains(err.Error(), "units:") {
		t.Fatalf("error %v, want both problems", err)
	}
}

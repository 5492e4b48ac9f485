//go:build linux

package sdbox

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPlanMountsOrder(t *testing.T) {
	got := planMounts(Options{
		Tmpfs:    []string{"/etc/hakgen"},
		Overlays: []string{"/usr/local"},
		Binds:    []Bind{{Source: "/tmp/b", Target: "/run/b", ReadOnly: true}},
	})
	want := []mountSpec{
		{Kind: kindTmpfs, Target: "/run", Mode: 0o755},
		{Kind: kindTmpfs, Target: "/tmp", Mode: 0o1777},
		{Kind: kindTmpfs, Target: "/var/tmp", Mode: 0o1777},
		{Kind: kindTmpfs, Target: "/var/log", Mode: 0o755},
		{Kind: kindOverlay, Target: "/etc"},
		{Kind: kindOverlay, Target: "/var/lib"},
		{Kind: kindOverlay, Target: "/usr/local"},
		{Kind: kindTmpfs, Target: "/etc/hakgen", Mode: 0o755},
		{Kind: kindBind, Target: "/run/b", Source: "/tmp/b", ReadOnly: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mounts:\n got %+v\nwant %+v", got, want)
	}
}

func TestPlanRoundTrip(t *testing.T) {
	p := plan{
		Hostname:  "h",
		MachineID: "0123",
		Mounts:    planMounts(Options{}),
		Units:     map[string]string{"a.service": "[Service]\n"},
	}
	enc, err := p.encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodePlan(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
	}
}

func TestPlanEncodeRefusesOversizedPlans(t *testing.T) {
	p := plan{Units: map[string]string{"big.service": strings.Repeat("x", maxPlanSize)}}
	if _, err := p.encode(); err == nil {
		t.Fatal("an oversized plan was encoded")
	}
}

func TestUnitFilesCopiesVendorUnitsAndDropIns(t *testing.T) {
	vendor := t.TempDir()
	for name, content := range map[string]string{
		"x.service":               "[Service]\nExecStart=/bin/true\n",
		"x.service.d/debian.conf": "[Unit]\nDescription=x\n",
	} {
		p := filepath.Join(vendor, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range baseUnits {
		if err := os.WriteFile(filepath.Join(vendor, name), []byte("[Unit]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := unitFiles(vendor, []string{"x.service"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"x.service", "x.service.d/debian.conf", Target, "sysinit.target", "system.slice", "dbus.socket"} {
		if _, ok := files[name]; !ok {
			t.Errorf("no %s among %d unit files", name, len(files))
		}
	}
	if !strings.Contains(files[Target], "Wants=") || !strings.Contains(files[Target], "dbus.service") {
		t.Errorf("boot target does not pull in the bus:\n%s", files[Target])
	}
}

func TestUnitFilesReportsMissingUnits(t *testing.T) {
	_, err := unitFiles(t.TempDir(), []string{"missing.service"})
	if err == nil || !strings.Contains(err.Error(), "missing.service") {
		t.Fatalf("error %v, want one naming missing.service", err)
	}
}

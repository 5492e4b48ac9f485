//go:build linux

package sdbox

import (
	"strings"
	"testing"
)

func TestFindCgroup2Mount(t *testing.T) {
	const hybrid = `27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	mp, root, err := findCgroup2Mount(strings.NewReader(hybrid))
	if err != nil || mp != "/sys/fs/cgroup/unified" || root != "/" {
		t.Fatalf("got %q %q %v", mp, root, err)
	}
	if _, _, err := findCgroup2Mount(strings.NewReader("27 1 254:0 / / rw - ext4 /dev/vda rw\n")); err == nil {
		t.Fatal("found a cgroup2 mount in a table without one")
	}
}

func TestCgroupDir(t *testing.T) {
	tests := []struct {
		mount, root, table, want string
	}{
		{"/sys/fs/cgroup/unified", "/", "9:name=systemd:/\n0::/\n", "/sys/fs/cgroup/unified"},
		{"/sys/fs/cgroup", "/", "0::/system.slice/ci.service\n", "/sys/fs/cgroup/system.slice/ci.service"},
		{"/sys/fs/cgroup", "/a", "0::/a/b\n", "/sys/fs/cgroup/b"},
	}
	for _, tt := range tests {
		got, err := cgroupDir(tt.mount, tt.root, tt.table)
		if err != nil || got != tt.want {
			t.Errorf("cgroupDir(%q, %q, %q) = %q, %v; want %q", tt.mount, tt.root, tt.table, got, err, tt.want)
		}
	}
	if _, err := cgroupDir("/sys/fs/cgroup", "/a", "0::/ab\n"); err == nil {
		t.Error("accepted a cgroup outside the mount's root")
	}
	if _, err := cgroupDir("/sys/fs/cgroup", "/", "1:cpu:/\n"); err == nil {
		t.Error("accepted a table without a cgroup2 entry")
	}
}

func TestLastLine(t *testing.T) {
	for in, want := range map[string]string{
		"running\n": "running",
		"Failed to connect to bus: No such file or directory\noffline\n": "offline",
		"": "",
	} {
		if got := lastLine(in); got != want {
			t.Errorf("lastLine(%q) = %q, want %q", in, got, want)
		}
	}
}

//go:build linux

package sdbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// hostTrees are detached copies of host mounts, taken before the machine's
// own mounts hide their sources, and attached later with move_mount(2).
type hostTrees struct {
	devices map[string]int // /dev node name -> tree
	console int            // the pseudo-terminal on stdin
	binds   map[int]int    // plan mount index -> tree
}

// hostDevices are the only host device nodes the machine's /dev carries.
var hostDevices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// holdHostTrees clones the device nodes, the console and the sources of the
// planned binds. The clones keep the host mounts' flags, so they stay
// writable after the host's tree is made read-only.
func holdHostTrees(mounts []mountSpec) (hostTrees, error) {
	held := hostTrees{devices: map[string]int{}, binds: map[int]int{}}
	var err error
	for _, name := range hostDevices {
		if held.devices[name], err = cloneTree(unix.AT_FDCWD, "/dev/"+name, 0); err != nil {
			return held, err
		}
	}
	if held.console, err = cloneConsole(); err != nil {
		return held, fmt.Errorf("console: %w", err)
	}
	for i, m := range mounts {
		if m.Kind != kindBind {
			continue
		}
		if held.binds[i], err = cloneTree(unix.AT_FDCWD, m.Source, unix.AT_RECURSIVE); err != nil {
			return held, err
		}
		if m.ReadOnly {
			attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
			if err := unix.MountSetattr(held.binds[i], "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
				return held, fmt.Errorf("making bind of %s read-only: %w", m.Source, err)
			}
		}
	}
	return held, nil
}

// cloneConsole clones the mount of the terminal on stdin. The clone goes by
// path: open_tree(2) refuses files opened in another mount namespace, as
// stdin was. Matching device numbers, of the devpts instance and of the
// terminal, prove the path names the same terminal.
func cloneConsole() (int, error) {
	name, err := os.Readlink("/proc/self/fd/0")
	if err != nil {
		return -1, fmt.Errorf("naming stdin: %w", err)
	}
	fd, err := cloneTree(unix.AT_FDCWD, name, 0)
	if err != nil {
		return -1, err
	}
	var want, got unix.Stat_t
	if err := errors.Join(unix.Fstat(0, &want), unix.Fstat(fd, &got)); err != nil {
		return -1, fmt.Errorf("inspecting %s: %w", name, err)
	}
	if want.Dev != got.Dev || want.Rdev != got.Rdev || got.Mode&unix.S_IFMT != unix.S_IFCHR {
		return -1, fmt.Errorf("%s is not the terminal on stdin", name)
	}
	return fd, nil
}

func cloneTree(dirfd int, path string, flags uint) (int, error) {
	fd, err := unix.OpenTree(dirfd, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|flags)
	if err != nil {
		return -1, fmt.Errorf("cloning mount of %q: %w", path, err)
	}
	return fd, nil
}

// attachTree mounts a held tree on target, creating target as an empty
// file or a directory to match the tree's root.
func attachTree(fd int, target string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("inspecting held tree: %w", err)
	}
	if err := makeMountPoint(target, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return err
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching held tree: %w", err)
	}
	return unix.Close(fd)
}

// makeMountPoint creates target, and its parents, unless it exists.
func makeMountPoint(target string, dir bool) error {
	if _, err := os.Lstat(target); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("inspecting mount point: %w", err)
	}
	if dir {
		return os.MkdirAll(target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("creating mount point parent: %w", err)
	}
	return os.WriteFile(target, nil, 0o644)
}

func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", fstype, target, err)
	}
	return nil
}

// bindSelf bind-mounts path on itself and sets or clears its read-only
// flag (a bind inherits the flags of the mount it copies).
func bindSelf(path string, readOnly bool) error {
	if err := unix.Mount(path, path, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding %s: %w", path, err)
	}
	attr := unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}
	if readOnly {
		attr = unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	}
	if err := unix.MountSetattr(-1, path, 0, &attr); err != nil {
		return fmt.Errorf("setting flags of %s: %w", path, err)
	}
	return nil
}

// mountProc mounts a /proc of the new pid namespace. Kernel tunables are
// read-only, except the network ones, which belong to the machine's own
// network namespace.
func mountProc() error {
	if err := mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := bindSelf("/proc/sys", true); err != nil {
		return err
	}
	// Kernels built without magic SysRq have no trigger file.
	if _, err := os.Stat("/proc/sysrq-trigger"); err == nil {
		if err := bindSelf("/proc/sysrq-trigger", true); err != nil {
			return err
		}
	}
	return bindSelf("/proc/sys/net", false)
}

// mountSys mounts a read-only sysfs of the new network namespace and, on
// it, a cgroup2 hierarchy whose root is the machine's own cgroup.
func mountSys() error {
	if err := mount("sysfs", "/sys", "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	return mount("cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// applyMount carries out the i-th planned mount.
func applyMount(i int, m mountSpec, held hostTrees) error {
	switch m.Kind {
	case kindTmpfs:
		if err := makeMountPoint(m.Target, true); err != nil {
			return err
		}
		return mount("tmpfs", m.Target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=%o", m.Mode))
	case kindOverlay:
		return mountOverlay(i, m.Target)
	case kindBind:
		return attachTree(held.binds[i], m.Target)
	}
	return fmt.Errorf("unknown mount kind %q", m.Kind)
}

// mountOverlay stacks a writable layer, kept under overlayDir, on the host
// directory dir. The layer's root takes dir's owner and mode, which the
// overlay's root shows.
func mountOverlay(i int, dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("inspecting overlay base: %w", err)
	}
	base := filepath.Join(overlayDir, fmt.Sprint(i))
	upper, work := filepath.Join(base, "upper"), filepath.Join(base, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating overlay layer: %w", err)
		}
	}
	if err := unix.Chown(upper, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("setting overlay owner: %w", err)
	}
	if err := unix.Chmod(upper, st.Mode&0o7777); err != nil {
		return fmt.Errorf("setting overlay mode: %w", err)
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", dir, upper, work)
	return mount("overlay", dir, "overlay", 0, opts)
}

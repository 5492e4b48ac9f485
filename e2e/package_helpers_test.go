//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hakgen/hakgen/e2e/sdbox"
	"github.com/hakgen/hakgen/internal/tooltest"
)

const (
	// debDir is where a machine sees the directory the .deb was built in.
	debDir = "/run/hakgen-e2e-deb"
	// agentUnit is the unit the package installs.
	agentUnit = "hakgen-agent.service"
	// installedUnit is where the package puts it.
	installedUnit = "/lib/systemd/system/" + agentUnit
	// statePath is the package's conffile, the agent's state.
	statePath = "/etc/hakgen/state.yaml"
	// buildTimeout bounds `make deb-ARCH`: a cold build cache compiles
	// every dependency and nfpm.
	buildTimeout = 8 * time.Minute
)

// builtDeb is a .deb built by `make deb-ARCH` for the host's architecture.
type builtDeb struct {
	dir     string // host directory holding it
	name    string // file name
	version string // the Debian version
}

// The package every test installs, built once per run of the tests.
var (
	debOnce  sync.Once
	debBuilt builtDeb
	debErr   error
)

// TestMain removes the package built for the tests when they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if debBuilt.dir != "" {
		os.RemoveAll(debBuilt.dir)
	}
	os.Exit(code)
}

// buildDeb builds the package for the host's architecture with the
// Makefile's own target, once for all tests of this run.
func buildDeb(t *testing.T) builtDeb {
	t.Helper()
	mk := tooltest.Need(t, "make")
	debOnce.Do(func() { debBuilt, debErr = makeDeb(mk) })
	if debErr != nil {
		t.Fatal(debErr)
	}
	return debBuilt
}

func makeDeb(mk string) (builtDeb, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return builtDeb{}, err
	}
	dir, err := os.MkdirTemp("", "hakgen-e2e-deb-")
	if err != nil {
		return builtDeb{}, err
	}
	deb := builtDeb{dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, mk, "-C", root, "deb-"+runtime.GOARCH, "DIST="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return deb, fmt.Errorf("make deb-%s: %v\n%s", runtime.GOARCH, err, out)
	}
	matches, err := filepath.Glob(filepath.Join(dir, "hakgen-agent_*_"+runtime.GOARCH+".deb"))
	if err != nil || len(matches) != 1 {
		return deb, fmt.Errorf("make deb-%s built %v (%v), want one package", runtime.GOARCH, matches, err)
	}
	deb.name = filepath.Base(matches[0])
	deb.version = strings.TrimSuffix(strings.TrimPrefix(deb.name, "hakgen-agent_"), "_"+runtime.GOARCH+".deb")
	return deb, nil
}

// bootForPackage boots a machine in which dpkg can install deb: /usr is a
// throwaway overlay like /etc and /var/lib, and the package's directory is
// visible at debDir. Debian's haproxy.service and keepalived.service are
// there, not started.
func bootForPackage(t *testing.T, deb builtDeb) *sdbox.Machine {
	t.Helper()
	tooltest.Need(t, "dpkg")
	tooltest.Need(t, "haproxy")
	m := sdbox.Boot(t, sdbox.Options{
		Units:    []string{"haproxy.service", "keepalived.service"},
		Overlays: []string{"/usr"},
		Binds:    []sdbox.Bind{{Source: deb.dir, Target: debDir, ReadOnly: true}},
	})
	// Container images ship a policy-rc.d that forbids maintainer scripts
	// to start or stop services; a real host has none.
	run(t, m, "rm", "-f", "/usr/sbin/policy-rc.d")
	return m
}

// dpkgInstall runs `dpkg -i` on deb inside m, without a terminal (a
// conffile question fails it), and returns dpkg's output.
func dpkgInstall(t *testing.T, m *sdbox.Machine, deb builtDeb) string {
	t.Helper()
	return run(t, m, "dpkg", "-i", debDir+"/"+deb.name)
}

// exposeInstalledUnit makes the machine's systemd, which loads units only
// from /run/systemd/system and its curated set, load the unit file the
// package installed, through a link to it; then reloads systemd.
func exposeInstalledUnit(t *testing.T, m *sdbox.Machine) {
	t.Helper()
	run(t, m, "ln", "-sfn", installedUnit, "/run/systemd/system/"+agentUnit)
	systemctl(t, m, "daemon-reload")
}

// prepareHAProxy creates what boot-time tmpfiles would (/run/haproxy, for
// the admin socket of the configuration the agent renders).
func prepareHAProxy(t *testing.T, m *sdbox.Machine) {
	t.Helper()
	run(t, m, "systemd-tmpfiles", "--create", "haproxy.conf")
}

// loopbackState is a valid state whose frontends listen on loopback ports
// of the machine, plus one extra port per entry of extra.
func loopbackState(extra ...int) string {
	var b strings.Builder
	b.WriteString("cluster: e2e\n")
	b.WriteString("controlPlanes:\n  - {name: cp1, address: 127.0.0.1}\n")
	b.WriteString("workers: []\n")
	b.WriteString("apiServer: {port: 16443, backendPort: 16444, healthCheck: tcp}\n")
	b.WriteString("stats: {bind: 127.0.0.1:18404}\n")
	// The machine's file limit is the host's (often 20000): HAProxy's
	// default of 50000 connections needs more.
	b.WriteString("haproxy: {maxconn: 2000}\n")
	if len(extra) > 0 {
		b.WriteString("extraPorts:\n")
		for _, p := range extra {
			fmt.Fprintf(&b, "  - {name: extra%d, port: %d, backendPort: %d}\n", p, p, p+1)
		}
	}
	return b.String()
}

// waitListeningAny waits until something inside m listens on port, on any
// address (the agent's frontends bind the wildcard).
func waitListeningAny(t *testing.T, m *sdbox.Machine, port int) {
	t.Helper()
	eventually(t, fmt.Sprintf("listening on port %d", port), func() error {
		out := run(t, m, "ss", "-Hltn", fmt.Sprintf("sport = :%d", port))
		if out == "" {
			return fmt.Errorf("nothing listens on %d", port)
		}
		return nil
	})
}

// repoFile reads a file of the repository, relative to its root.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

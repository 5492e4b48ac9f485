package packaging_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/internal/tooltest"
)

// debArches are the architectures `make deb` builds, with the ELF
// machine of their binaries.
var debArches = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// debVersionRE matches what packaging/version.sh prints.
var debVersionRE = regexp.MustCompile(`^([0-9]+\.[0-9]+\.[0-9]+(~[a-z0-9.]+)?|0\.0\.0~git[0-9]{8}\.[0-9]+\.[0-9a-f]{7}|[0-9]+\.[0-9]+\.[0-9]+(~[a-z0-9.]+)?\+git[0-9]{8}\.[0-9]+\.[0-9a-f]{7})(\+dirty)?$`)

// debFiles are the files (not directories) each package holds, with their
// modes; every entry is owned by root.
var debFiles = map[string]string{
	"./usr/bin/hakgen-agent":                                    "-rwxr-xr-x",
	"./lib/systemd/system/hakgen-agent.service":                 "-rw-r--r--",
	"./etc/hakgen/state.yaml":                                   "-rw-r--r--",
	"./usr/share/doc/hakgen-agent/copyright":                    "-rw-r--r--",
	"./usr/share/doc/hakgen-agent/changelog.gz":                 "-rw-r--r--",
	"./usr/share/doc/hakgen-agent/README.md":                    "-rw-r--r--",
	"./usr/share/lintian/overrides/hakgen-agent":                "-rw-r--r--",
	"./usr/lib/tmpfiles.d/hakgen.conf":                          "-rw-r--r--",
	"./usr/share/hakgen-agent/monitoring/hakgen-alerts.yaml":    "-rw-r--r--",
	"./usr/share/hakgen-agent/monitoring/hakgen-dashboard.json": "-rw-r--r--",
	// Completions and man pages, written by `hakgen-agent gendocs`.
	"./usr/share/bash-completion/completions/hakgen-agent":         "-rw-r--r--",
	"./usr/share/zsh/vendor-completions/_hakgen-agent":             "-rw-r--r--",
	"./usr/share/fish/vendor_completions.d/hakgen-agent.fish":      "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent.8.gz":                       "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-check.8.gz":                 "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-completion.8.gz":            "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-completion-bash.8.gz":       "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-completion-fish.8.gz":       "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-completion-zsh.8.gz":        "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-completion-powershell.8.gz": "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-doctor.8.gz":                "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-drill.8.gz":                 "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-drain.8.gz":                 "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-notify.8.gz":                "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-render.8.gz":                "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-run.8.gz":                   "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-status.8.gz":                "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-undrain.8.gz":               "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-validate.8.gz":              "-rw-r--r--",
	"./usr/share/man/man8/hakgen-agent-version.8.gz":               "-rw-r--r--",
}

// TestDebPackages builds both packages with `make deb` and checks their
// control fields, contents, maintainer scripts, binaries, documentation,
// and that lintian finds no error in them.
func TestDebPackages(t *testing.T) {
	mk := tooltest.Need(t, "make")
	tooltest.Need(t, "dpkg-deb")
	dist := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mk, "-C", repoRoot(t), "deb", "DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	version := builtVersion(t, dist)
	for arch, machine := range debArches {
		t.Run(arch, func(t *testing.T) {
			t.Parallel()
			deb := filepath.Join(dist, "hakgen-agent_"+version+"_"+arch+".deb")
			checkControl(t, deb, arch, version)
			checkContents(t, deb)
			checkMaintainerScripts(t, deb)
			root := t.TempDir()
			dpkgDeb(t, "-x", deb, root)
			checkBinary(t, filepath.Join(root, "usr/bin/hakgen-agent"), arch, machine, version)
			checkFiles(t, root)
			checkDocs(t, root, version)
			checkLintian(t, deb)
		})
	}
}

// builtVersion returns the version in the names of the packages in dist,
// which must be one valid version for every architecture.
func builtVersion(t *testing.T, dist string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dist, "hakgen-agent_*_amd64.deb"))
	if len(matches) != 1 {
		t.Fatalf("make deb built %v for amd64, want one package", matches)
	}
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(matches[0]), "hakgen-agent_"), "_amd64.deb")
	if !debVersionRE.MatchString(version) {
		t.Errorf("version %q does not follow packaging/version.sh's rule", version)
	}
	return version
}

func checkControl(t *testing.T, deb, arch, version string) {
	t.Helper()
	want := map[string]string{
		"Package":      "hakgen-agent",
		"Version":      version,
		"Architecture": arch,
		"Depends":      "haproxy (>= 2.6), ca-certificates",
		"Recommends":   "keepalived",
		"Section":      "net",
		"Priority":     "optional",
		"Homepage":     "https://github.com/hakgen/hakgen",
	}
	for field, value := range want {
		if got := dpkgDeb(t, "-f", deb, field); got != value {
			t.Errorf("%s: %q, want %q", field, got, value)
		}
	}
	desc := dpkgDeb(t, "-f", deb, "Description")
	if lines := strings.Split(desc, "\n"); len(lines) < 3 || len(lines[0]) > 80 {
		t.Errorf("Description needs a short synopsis and a long text: %q", desc)
	}
}

// checkContents compares `dpkg-deb -c` with debFiles.
func checkContents(t *testing.T, deb string) {
	t.Helper()
	got := map[string]string{}
	for line := range strings.Lines(dpkgDeb(t, "-c", deb)) {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s", f[5], f[1])
		}
		if f[0][0] != 'd' {
			got[f[5]] = f[0]
		}
	}
	for path, mode := range debFiles {
		if got[path] != mode {
			t.Errorf("%s: mode %q, want %q", path, got[path], mode)
		}
	}
	for path := range got {
		if _, ok := debFiles[path]; !ok {
			t.Errorf("unexpected file %s", path)
		}
	}
}

// checkMaintainerScripts checks the control archive: the conffile and
// the maintainer scripts as written in packaging/scripts.
func checkMaintainerScripts(t *testing.T, deb string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "DEBIAN")
	dpkgDeb(t, "-e", deb, dir)
	if got := readFile(t, filepath.Join(dir, "conffiles")); got != "/etc/hakgen/state.yaml\n" {
		t.Errorf("conffiles: %q", got)
	}
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		path := filepath.Join(dir, name)
		if got := readFile(t, path); got != readRepo(t, "packaging/scripts/"+name) {
			t.Errorf("%s differs from packaging/scripts/%s", name, name)
		}
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v, %v; want mode 0755", name, info, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "preinst")); err == nil {
		t.Error("unexpected preinst")
	}
}

// checkBinary checks the agent's architecture, build settings and, when
// it can run here, the version it reports.
func checkBinary(t *testing.T, bin, arch string, machine elf.Machine, version string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("binary is for %s, want %s", f.Machine, machine)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for key, want := range map[string]string{"GOARCH": arch, "GOOS": "linux", "CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[key] != want {
			t.Errorf("build setting %s=%q, want %q", key, settings[key], want)
		}
	}
	// -trimpath keeps -ldflags out of the build information; the version
	// set with -X is a string in the binary.
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(version)) {
		t.Errorf("binary does not hold version %s", version)
	}
	if arch != runtime.GOARCH {
		return
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "hakgen-agent "+version+" (commit ") {
		t.Errorf("hakgen-agent version: %q, %v; want version %s", out, err, version)
	}
}

// checkFiles compares the unit, the example state and the lintian
// overrides with their sources.
func checkFiles(t *testing.T, root string) {
	t.Helper()
	for installed, source := range map[string]string{
		"lib/systemd/system/hakgen-agent.service":  "packaging/hakgen-agent.service",
		"usr/share/lintian/overrides/hakgen-agent": "packaging/lintian/hakgen-agent",
		"usr/share/doc/hakgen-agent/README.md":     "README.md",
	} {
		if readFile(t, filepath.Join(root, installed)) != readRepo(t, source) {
			t.Errorf("/%s differs from %s", installed, source)
		}
	}
	if readFile(t, filepath.Join(root, "etc/hakgen/state.yaml")) != packagedState(t) {
		t.Errorf("/etc/hakgen/state.yaml differs from packaging/state-header.yaml followed by testdata/quickstart.yaml")
	}
}

// checkDocs checks the changelog's version and that the copyright file
// covers the Go standard library and every module linked into the agent.
func checkDocs(t *testing.T, root, version string) {
	t.Helper()
	doc := filepath.Join(root, "usr/share/doc/hakgen-agent")
	changelog := gunzip(t, filepath.Join(doc, "changelog.gz"))
	if first, _, _ := strings.Cut(changelog, "\n"); first != "hakgen-agent ("+version+") unstable; urgency=medium" {
		t.Errorf("changelog starts with %q", first)
	}
	copyright := readFile(t, filepath.Join(doc, "copyright"))
	info, err := buildinfo.ReadFile(filepath.Join(root, "usr/bin/hakgen-agent"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Files: *\n", "Files: " + info.GoVersion + "/src/*\n", "\nLicense: Apache-2.0\n"}
	for _, d := range info.Deps {
		want = append(want, "Files: "+d.Path+"@"+d.Version+"/*\n")
	}
	for _, w := range want {
		if !strings.Contains(copyright, w) {
			t.Errorf("copyright lacks %q", strings.TrimSpace(w))
		}
	}
}

// checkLintian runs lintian on deb: any error fails the test, and so does
// a missing man page; other tags are logged.
func checkLintian(t *testing.T, deb string) {
	t.Helper()
	lintian := tooltest.Need(t, "lintian")
	out, err := exec.Command(lintian, "--allow-root", deb).CombinedOutput()
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "E: ") || strings.Contains(line, "no-manual-page") {
			t.Errorf("lintian: %s", strings.TrimSpace(line))
		} else if strings.TrimSpace(line) != "" {
			t.Logf("lintian: %s", strings.TrimSpace(line))
		}
	}
	if err != nil && !t.Failed() {
		t.Errorf("lintian: %v\n%s", err, out)
	}
}

// dpkgDeb runs dpkg-deb with args and returns its trimmed output.
func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

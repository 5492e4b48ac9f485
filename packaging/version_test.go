package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/internal/tooltest"
)

// TestVersionScript runs packaging/version.sh in a scratch git repository
// through the life of a project (no tag, a release candidate, a release,
// commits after it, local changes) and checks each version and that dpkg
// orders them as they happened.
func TestVersionScript(t *testing.T) {
	gitBin := tooltest.Need(t, "git")
	dpkg := tooltest.Need(t, "dpkg")
	script, err := filepath.Abs("version.sh")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, append([]string{"-c", "user.name=t", "-c", "user.email=t@example.invalid",
			"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
			"GIT_COMMITTER_DATE=2026-11-25T12:00:00Z", "GIT_AUTHOR_DATE=2026-11-25T12:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	version := func() string {
		t.Helper()
		cmd := exec.Command("/bin/sh", script)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CEILING_DIRECTORIES="+filepath.Dir(repo))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("version.sh: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func() string {
		t.Helper()
		f := filepath.Join(repo, "f")
		data, _ := os.ReadFile(f)
		if err := os.WriteFile(f, append(data, 'x'), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", "f")
		git("commit", "-q", "-m", "c")
		return git("rev-parse", "--short=7", "HEAD")
	}

	if got := version(); got != "0.0.0~nogit" {
		t.Errorf("outside a repository: %q", got)
	}
	git("init", "-q")
	var steps []string
	check := func(want string) {
		t.Helper()
		got := version()
		if !regexp.MustCompile("^" + want + "$").MatchString(got) {
			t.Errorf("version %q, want %s", got, want)
		}
		steps = append(steps, got)
	}
	sha := commit()
	check(`0\.0\.0~git20261125\.1\.` + sha)
	sha = commit()
	check(`0\.0\.0~git20261125\.2\.` + sha)
	git("tag", "v1.0.0-rc1")
	check(`1\.0\.0~rc1`)
	commit()
	git("tag", "v1.0.0")
	check(`1\.0\.0`)
	sha = commit()
	check(`1\.0\.0\+git20261125\.1\.` + sha)
	if err := os.WriteFile(filepath.Join(repo, "f"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(`1\.0\.0\+git20261125\.1\.` + sha + `\+dirty`)

	for i := 1; i < len(steps); i++ {
		if err := exec.Command(dpkg, "--compare-versions", steps[i-1], "lt", steps[i]).Run(); err != nil {
			t.Errorf("dpkg does not order %s before %s", steps[i-1], steps[i])
		}
	}
}

package packaging_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// repoRoot is the repository's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// readRepo reads a file of the repository, relative to its root.
func readRepo(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// packagedState is the example /etc/hakgen/state.yaml `make deb` puts in the
// package: the header with its marker line, then the quick-start state.
func packagedState(t *testing.T) string {
	t.Helper()
	return readRepo(t, "packaging/state-header.yaml") + readRepo(t, "testdata/quickstart.yaml")
}

// asExit reports whether err is an *exec.ExitError, and sets *target.
func asExit(err error, target **exec.ExitError) bool { return errors.As(err, target) }

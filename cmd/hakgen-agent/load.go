package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hakgen/hakgen/state"
)

// DefaultStatePath is where the agent reads its desired state.
const DefaultStatePath = "/etc/hakgen/state.yaml"

// loadState loads the state file at path and prints its warnings. A file
// that cannot be read at all is an environment problem; one that reads but
// is wrong is invalid input.
// ctx's deadline bounds the reads.
func loadState(ctx context.Context, path string, stderr io.Writer) (*state.State, error) {
	return loadStateFor(ctx, path, stderr, state.LoadContext)
}

// loadStateFor is loadState with the loader to use, e.g.
// state.LoadSkippingSecrets.
func loadStateFor(ctx context.Context, path string, stderr io.Writer, load func(context.Context, string) (*state.State, state.Problems, error)) (*state.State, error) {
	s, warnings, err := load(ctx, path)
	printWarnings(stderr, warnings)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return nil, envErr(err)
	}
	return s, err
}

func printWarnings(w io.Writer, warnings state.Problems) {
	for _, p := range warnings {
		fmt.Fprintln(w, p.Error())
	}
}

// notifyStatePath is the --state keepalived.conf passes to notify: the
// absolute path of statePath (keepalived runs scripts from /), or "" for
// the default, which notify reads without the flag.
func notifyStatePath(statePath string) string {
	abs, err := filepath.Abs(statePath)
	if err != nil || abs == DefaultStatePath {
		return ""
	}
	return abs
}

// serverFlag collects repeated NAME=ADDRESS flags.
type serverFlag []state.Server

func (f *serverFlag) String() string { return "" }

// Type names the flag's value in --help.
func (f *serverFlag) Type() string { return "NAME=ADDR" }

func (f *serverFlag) Set(v string) error {
	name, addr, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("%q is not NAME=ADDRESS", v)
	}
	*f = append(*f, state.Server{Name: name, Address: addr})
	return nil
}

// exampleMarker starts the example state the package installs; the unit
// does not start the agent while the state file begins with it.
const exampleMarker = "# hakgen: example state"

// isExample reports whether the state file at path is still the packaged
// example.
func isExample(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	first := make([]byte, len(exampleMarker))
	n, _ := io.ReadFull(f, first)
	return string(first[:n]) == exampleMarker
}

package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/hakgen/hakgen/state"
)

// DefaultStatePath is where the agent reads its desired state.
const DefaultStatePath = "/etc/hakgen/state.yaml"

// loadState loads the state file at path and prints its warnings. A file
// that cannot be read at all is an environment problem; one that reads but
// is wrong is invalid input.
func loadState(path string, stderr io.Writer) (*state.State, error) {
	s, warnings, err := state.Load(path)
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

// serverFlag collects repeated NAME=ADDRESS flags.
type serverFlag []state.Server

func (f *serverFlag) String() string { return "" }

func (f *serverFlag) Set(v string) error {
	name, addr, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("%q is not NAME=ADDRESS", v)
	}
	*f = append(*f, state.Server{Name: name, Address: addr})
	return nil
}

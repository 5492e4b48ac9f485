package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/hakgen/hakgen/internal/regular"
	"github.com/pmezard/go-difflib/difflib"
)

// DefaultHAProxyConfig is the haproxy.cfg Debian's haproxy.service loads.
const DefaultHAProxyConfig = "/etc/haproxy/haproxy.cfg"

// maxDiffed bounds what render --diff reads of the installed file, as the
// agent bounds what it reads of the files it manages.
const maxDiffed = 64 << 20

// printDiff prints a unified diff from the file at path to rendered and
// returns an error with exit code 1 when they differ, as diff(1) does. A
// missing file counts as empty; nothing is written.
func printDiff(path string, rendered []byte, e *env) error {
	// A FIFO or device at path is refused, not waited on or read forever.
	current, err := regular.Read(path, maxDiffed)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return envErr(fmt.Errorf("reading the running config: %w", err))
	}
	if string(current) == string(rendered) {
		fmt.Fprintf(e.stderr, "%s is up to date\n", path)
		return nil
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(current)), B: difflib.SplitLines(string(rendered)),
		FromFile: path, ToFile: path + " (rendered)", Context: 3,
	})
	if err != nil {
		return fmt.Errorf("diffing %s: %w", path, err)
	}
	if _, err := fmt.Fprint(e.stdout, text); err != nil {
		return err
	}
	return &exitError{exitInvalid, fmt.Errorf("%s would change: the diff above is what installing the rendered state does", path)}
}

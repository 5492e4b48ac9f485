package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set at build time:
// -ldflags "-X main.version=... -X main.commit=...".
var (
	version = ""
	commit  = ""
)

func newVersionCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "print version, commit and Go version",
		Long:    "Prints the version, the commit it was built from and the Go version (as --version does).",
		Example: "  hakgen-agent version\n  hakgen-agent --version",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(e.stdout, versionLine(buildVersion()))
			return err
		},
	}
}

// versionLine is what version and --version print.
func versionLine(v, c string) string {
	return fmt.Sprintf("hakgen-agent %s (commit %s, %s)", v, c, runtime.Version())
}

// buildVersion returns the version and commit set at link time, falling
// back to what the Go toolchain recorded.
func buildVersion() (string, string) {
	v, c := version, commit
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok && info.Main.Version != "" {
		v = info.Main.Version
	}
	if c == "" && ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				c = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}

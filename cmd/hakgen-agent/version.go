package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time:
// -ldflags "-X main.version=... -X main.commit=...".
var (
	version = ""
	commit  = ""
)

func versionCommand() command {
	return command{
		name:    "version",
		summary: "print version, commit and Go version",
		usage:   "Usage: hakgen-agent version\n\nPrints the version, the commit it was built from and the Go version.",
		flags: func(fs *flag.FlagSet) func(context.Context, *env) error {
			return func(_ context.Context, e *env) error {
				v, c := buildVersion()
				_, err := fmt.Fprintf(e.stdout, "hakgen-agent %s (commit %s, %s)\n", v, c, runtime.Version())
				return err
			}
		},
	}
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

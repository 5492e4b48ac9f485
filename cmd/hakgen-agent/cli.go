package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes, documented in --help and README.md.
const (
	exitOK          = 0 // success
	exitInvalid     = 1 // invalid input: the state, or a config HAProxy refuses
	exitUsage       = 2 // usage error: unknown command or flag
	exitEnvironment = 3 // environment problem: a tool missing, a file not writable
)

const exitCodesHelp = `Exit codes:
  0  success
  1  invalid input: the state file, or a configuration HAProxy refuses
  2  usage error: unknown command, flag or argument
  3  environment problem: haproxy not found, a file that cannot be written`

// exitError carries the exit code of a failed command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

func envErr(err error) error { return &exitError{exitEnvironment, err} }

// command is one subcommand: its flags are parsed by run, then exec runs.
type command struct {
	name     string
	summary  string
	usage    string // synopsis and examples, shown by --help
	flags    func(fs *flag.FlagSet) func(ctx context.Context, env *env) error
	needArgs bool
}

// env is what a command may touch.
type env struct {
	stdout, stderr io.Writer
	args           []string // positional arguments
}

func commands() []command {
	return []command{renderCommand(), validateCommand(), versionCommand(), notifyCommand(), checkCommand(), daemonCommand(), statusCommand()}
}

func topUsage(w io.Writer) {
	fmt.Fprintf(w, "hakgen-agent keeps HAProxy (and keepalived) in front of a Kubernetes cluster\nin line with a desired-state file, /etc/hakgen/state.yaml.\n\nUsage:\n  hakgen-agent COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun `hakgen-agent COMMAND --help` for a command's flags and examples.\n\n%s\n", exitCodesHelp)
}

// run is the whole program but for signals and os.Exit: it parses args,
// runs one command and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		topUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		topUsage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return runCommand(ctx, c, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "hakgen-agent: unknown command %q\n\n", args[0])
	topUsage(stderr)
	return exitUsage
}

func runCommand(ctx context.Context, c command, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hakgen-agent "+c.name, flag.ContinueOnError)
	exec := c.flags(fs)
	usage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprintf(w, "%s\n\nFlags:\n", strings.TrimSpace(c.usage))
		fs.PrintDefaults()
		fmt.Fprintf(w, "\n%s\n", exitCodesHelp)
	}
	// The flag package's own messages are discarded: the help goes once,
	// to stdout when asked for, to stderr after a usage error.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "hakgen-agent %s: %v\n\n", c.name, err)
		usage(stderr)
		return exitUsage
	}
	if fs.NArg() > 0 && !c.needArgs {
		fmt.Fprintf(stderr, "hakgen-agent %s: unexpected argument %q (see --help)\n", c.name, fs.Arg(0))
		return exitUsage
	}
	err := exec(ctx, &env{stdout: stdout, stderr: stderr, args: fs.Args()})
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "hakgen-agent %s: %v\n", c.name, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitInvalid
}

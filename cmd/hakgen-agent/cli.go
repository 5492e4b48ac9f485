package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hakgen/hakgen/internal/journalcore"
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
  3  environment problem: haproxy not found, a file that cannot be read or written`

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

// isUsage reports whether err is a usage error (it gets the command's
// usage printed after it).
func isUsage(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.code == exitUsage
}

// env is what a command may touch besides its options.
type env struct {
	stdout, stderr io.Writer
	// journal sends to systemd's journal; nil sends through go-systemd
	// when the journal runs (see newNotifyLogger).
	journal journalcore.SendFunc
	// bound is every command's options value, as bindFlags bound it; a
	// test checks through it that each option has its flag.
	bound map[*cobra.Command]flagBinder
}

// flagBinder is a command's options: one value whose fields the command's
// flags are bound to, so that a declared option cannot be left unbound.
type flagBinder interface {
	addFlags(fs *pflag.FlagSet)
}

// bindFlags binds the options o to the flags of cmd.
func (e *env) bindFlags(cmd *cobra.Command, o flagBinder) {
	o.addFlags(cmd.Flags())
	e.bound[cmd] = o
}

// run is the whole program but for signals and os.Exit: it parses args,
// runs one command and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, &env{stdout: stdout, stderr: stderr})
}

// runWith is run in the environment e.
func runWith(ctx context.Context, args []string, e *env) int {
	stderr := e.stderr
	e.bound = map[*cobra.Command]flagBinder{}
	root := newRootCommand(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	if isUsage(err) {
		fmt.Fprintln(stderr)
		printHelp(stderr, cmd)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitInvalid
}

// newRootCommand is hakgen-agent with every subcommand.
func newRootCommand(e *env) *cobra.Command {
	v, c := buildVersion()
	root := &cobra.Command{
		Use:   "hakgen-agent",
		Short: "keeps HAProxy (and keepalived) in front of a Kubernetes cluster in line with a desired state",
		Long: "hakgen-agent keeps HAProxy (and keepalived) in front of a Kubernetes cluster\n" +
			"in line with a desired-state file, /etc/hakgen/state.yaml.",
		Version:       v,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Any argument that reached the root is not a command.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return usageErr("unknown command %q%s", args[0], suggestions(cmd, args[0]))
		},
		RunE: func(*cobra.Command, []string) error { return usageErr("no command given") },
	}
	root.SuggestionsMinimumDistance = 2
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetVersionTemplate(versionLine(v, c) + "\n")
	root.SetHelpFunc(func(cmd *cobra.Command, _ []string) { printHelp(cmd.OutOrStdout(), cmd) })
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	root.SetHelpCommand(newHelpCommand(root))
	root.AddCommand(newRenderCommand(e), newValidateCommand(e), newVersionCommand(e), newNotifyCommand(e),
		newCheckCommand(e), newRunCommand(e), newStatusCommand(e), newDoctorCommand(e), newDrillCommand(e), newGendocsCommand(e),
		newDrainCommand(e), newUndrainCommand(e))
	return root
}

// newHelpCommand is `help [COMMAND]`: cobra's own prints the top-level
// help for a command it does not know, and exits 0.
func newHelpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "help about any command",
		RunE: func(_ *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				typed := strings.Join(args, " ")
				if len(rest) > 0 {
					typed = rest[0]
				}
				return usageErr("no help for %q: unknown command%s", typed, suggestions(cmd, typed))
			}
			printHelp(root.OutOrStdout(), cmd)
			return nil
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var names []cobra.Completion
			if len(args) == 0 {
				for _, c := range root.Commands() {
					if c.IsAvailableCommand() {
						names = append(names, c.Name())
					}
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
}

// suggestions is cobra's "did you mean" for a mistyped command, as the
// tail of an error message.
func suggestions(cmd *cobra.Command, typed string) string {
	s := cmd.SuggestionsFor(typed)
	if len(s) == 0 {
		return " (see hakgen-agent --help)"
	}
	return "; did you mean " + strings.Join(s, " or ") + "?"
}

// Annotations of a command, read by printHelp.
const (
	annotationSynopsis  = "synopsis"  // the Usage: lines, instead of cobra's
	annotationExitCodes = "exitCodes" // replaces the common exit codes
)

// printHelp writes a command's help: its synopsis, description, examples,
// flags and exit codes. It is the help of every command and the usage
// printed after a usage error.
func printHelp(w io.Writer, cmd *cobra.Command) {
	synopsis := cmd.Annotations[annotationSynopsis]
	if synopsis == "" {
		synopsis = cmd.UseLine()
	}
	fmt.Fprintf(w, "Usage: %s\n", synopsis)
	if cmd.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.Long))
	}
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nCommands:\n")
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				fmt.Fprintf(w, "  %-11s %s\n", sub.Name(), sub.Short)
			}
		}
	}
	if cmd.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(cmd.Example, "\n"))
	}
	if flags := cmd.NonInheritedFlags(); flags.HasAvailableFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", flags.FlagUsages())
	}
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nRun `%s help COMMAND` for a command's flags and examples.\n", cmd.CommandPath())
	}
	codes := cmd.Annotations[annotationExitCodes]
	if codes == "" {
		codes = exitCodesHelp
	}
	fmt.Fprintf(w, "\n%s\n", codes)
}

// noArgs refuses positional arguments, as a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("unexpected argument %q (see --help)", args[0])
	}
	return nil
}

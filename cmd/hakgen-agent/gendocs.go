package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// gendocsOptions are the flags of the hidden gendocs command, which `make
// deb` runs to put man pages and shell completions into the package.
type gendocsOptions struct {
	man, completion string
	date            int64
}

func (o *gendocsOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.man, "man", "", "write the man pages (section 8) into `DIR`")
	fs.StringVar(&o.completion, "completion", "", "write the bash, zsh and fish completions into `DIR`")
	fs.Int64Var(&o.date, "date", 0, "the pages' date as `SECONDS` since 1970 (SOURCE_DATE_EPOCH; 0: now)")
}

func newGendocsCommand(e *env) *cobra.Command {
	o := &gendocsOptions{}
	cmd := &cobra.Command{
		Use:    "gendocs",
		Short:  "write man pages and shell completions (for packaging)",
		Hidden: true,
		Args:   noArgs,
		RunE:   func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Root()) },
	}
	e.bindFlags(cmd, o)
	return cmd
}

func (o *gendocsOptions) run(root *cobra.Command) error {
	if o.man == "" && o.completion == "" {
		return usageErr("nothing to write: give --man DIR, --completion DIR or both")
	}
	if o.man != "" {
		if err := o.writeMan(root); err != nil {
			return envErr(err)
		}
	}
	if o.completion != "" {
		if err := writeCompletions(root, o.completion); err != nil {
			return envErr(err)
		}
	}
	return nil
}

// writeMan writes hakgen-agent(8) and one page per command. A page's
// description ends with the command's exit codes, which its --help shows.
func (o *gendocsOptions) writeMan(root *cobra.Command) error {
	date := time.Now()
	if o.date > 0 {
		date = time.Unix(o.date, 0).UTC()
	}
	v, _ := buildVersion()
	for _, c := range append([]*cobra.Command{root}, root.Commands()...) {
		codes := c.Annotations[annotationExitCodes]
		if codes == "" {
			codes = exitCodesHelp
		}
		if c.Long == "" {
			c.Long = c.Short
		}
		c.Long += "\n\n" + codes
	}
	root.DisableAutoGenTag = true
	if err := os.MkdirAll(o.man, 0o755); err != nil {
		return err
	}
	return doc.GenManTree(root, &doc.GenManHeader{Title: "HAKGEN-AGENT", Section: "8", Date: &date,
		Source: "hakgen " + v, Manual: "hakgen manual"}, o.man)
}

// writeCompletions writes the completion scripts under the names Debian's
// shells load them by.
func writeCompletions(root *cobra.Command, dir string) error {
	for name, gen := range map[string]func(f *os.File) error{
		"hakgen-agent":      func(f *os.File) error { return root.GenBashCompletionV2(f, true) },
		"_hakgen-agent":     func(f *os.File) error { return root.GenZshCompletion(f) },
		"hakgen-agent.fish": func(f *os.File) error { return root.GenFishCompletion(f, true) },
	} {
		if err := writeWith(filepath.Join(dir, name), gen); err != nil {
			return err
		}
	}
	return nil
}

func writeWith(path string, gen func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gen(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

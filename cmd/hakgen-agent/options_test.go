package main

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// parseOptions parses args (a command and its flags) with the program's
// own parser and returns the options the command's flags are bound to.
func parseOptions[O flagBinder](t *testing.T, args ...string) O {
	t.Helper()
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, bound: map[*cobra.Command]flagBinder{}}
	root := newRootCommand(e)
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("parsing %v: %v", args, err)
	}
	o, ok := e.bound[cmd].(O)
	if !ok {
		t.Fatalf("%s has no options of type %T", cmd.Name(), o)
	}
	return o
}

// TestEveryOptionHasItsFlag walks the options of every command and wants
// each field bound to one of the command's flags: an option declared but
// never bound would keep its zero value on every real run.
func TestEveryOptionHasItsFlag(t *testing.T) {
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, bound: map[*cobra.Command]flagBinder{}}
	root := newRootCommand(e)
	if len(e.bound) < 6 {
		t.Fatalf("only %d commands registered their options", len(e.bound))
	}
	for _, sub := range root.Commands() {
		if sub.HasFlags() && sub.Name() != "help" && sub.Name() != "completion" {
			if _, ok := e.bound[sub]; !ok && sub.Flags().HasAvailableFlags() && sub.LocalNonPersistentFlags().NFlag() >= 0 && sub.NonInheritedFlags().HasAvailableFlags() && sub.Name() != "version" {
				t.Errorf("%s has flags but its options were not bound with bindFlags", sub.Name())
			}
		}
	}
	for cmd, o := range e.bound {
		bound := map[uintptr]bool{}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			v := reflect.ValueOf(f.Value)
			bound[v.Pointer()] = true
			// Values such as pflag's string slice hold the field's
			// pointer inside a struct of their own.
			if e := v.Elem(); e.Kind() == reflect.Struct {
				for i := range e.NumField() {
					if e.Field(i).Kind() == reflect.Pointer {
						bound[e.Field(i).Pointer()] = true
					}
				}
			}
		})
		for _, field := range leafFields(reflect.ValueOf(o).Elem(), cmd.Name()) {
			if !bound[field.addr] {
				t.Errorf("%s: option %s is bound to no flag", cmd.Name(), field.name)
			}
		}
	}
}

type leafField struct {
	name string
	addr uintptr
}

// leafFields lists the fields of an options struct, descending into the
// structs it embeds by value (groups of flags such as logOptions).
func leafFields(v reflect.Value, prefix string) []leafField {
	var out []leafField
	for i := range v.NumField() {
		f, ft := v.Field(i), v.Type().Field(i)
		name := prefix + "." + ft.Name
		if f.Kind() == reflect.Struct {
			out = append(out, leafFields(f, name)...)
			continue
		}
		out = append(out, leafField{name: name, addr: f.Addr().Pointer()})
	}
	return out
}

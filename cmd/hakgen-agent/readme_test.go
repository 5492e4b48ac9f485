package main

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/state"
)

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// between returns the text between <!-- name:start --> and <!-- name:end -->,
// without the code fence.
func between(t *testing.T, text, name string) string {
	t.Helper()
	re := regexp.MustCompile("(?s)<!-- " + name + ":start -->\n```[a-z]*\n(.*?)```\n<!-- " + name + ":end -->")
	m := re.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("README.md has no %s block", name)
	}
	return m[1]
}

// TestREADMEExampleIsCurrent keeps the README's example state and its
// rendered haproxy.cfg equal to what the code embeds and renders.
func TestREADMEExampleIsCurrent(t *testing.T) {
	text := readme(t)
	if got := between(t, text, "example-state"); got != string(state.Example) {
		t.Error("README.md's example state differs from state/example.yaml")
	}
	_, out, _ := runCLI(t, "render")
	if got := between(t, text, "example-haproxy"); got != out {
		t.Error("README.md's rendered example differs from `hakgen-agent render` (copy its output into the example-haproxy block)")
	}
}

// TestREADMEDocumentsEveryField walks the State type and expects each yaml
// field path in the reference tables.
func TestREADMEDocumentsEveryField(t *testing.T) {
	text := readme(t)
	for _, path := range fieldPaths(reflect.TypeFor[state.State](), "") {
		if !strings.Contains(text, "`"+path+"`") && !strings.Contains(text, path+"`") && !strings.Contains(text, "/ `"+lastName(path)+"`") {
			t.Errorf("README.md does not document %s", path)
		}
	}
}

func lastName(path string) string { return path[strings.LastIndex(path, ".")+1:] }

func fieldPaths(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			prefix += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[state.Duration]() {
		return nil
	}
	var paths []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		path := name
		if prefix != "" {
			path = strings.TrimSuffix(prefix, ".") + "." + name
		}
		sub := fieldPaths(f.Type, path)
		if len(sub) == 0 {
			paths = append(paths, path)
		}
		paths = append(paths, sub...)
	}
	return paths
}

// quickStartState returns the state.yaml of the README's Hetzner quick
// start (step 6), as an operator copies it: the indented block between the
// quickstart-state markers.
func quickStartState(t *testing.T) string {
	t.Helper()
	re := regexp.MustCompile("(?s)<!-- quickstart-state:start -->\n   ```yaml\n(.*?)   ```\n   <!-- quickstart-state:end -->")
	m := re.FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md has no quickstart-state block")
	}
	return regexp.MustCompile("(?m)^   ").ReplaceAllString(m[1], "")
}

// TestREADMEQuickStartIsTestdata keeps the quick start's state.yaml and
// testdata/quickstart.yaml, which the HA lab and other tests read, equal.
func TestREADMEQuickStartIsTestdata(t *testing.T) {
	want, err := os.ReadFile("../../testdata/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := quickStartState(t); got != string(want) {
		t.Errorf("README.md's quick-start state differs from testdata/quickstart.yaml:\n%s", got)
	}
}

// TestREADMEErrorsExample runs the README's validate example on its state
// and wants exactly the output the README shows.
func TestREADMEErrorsExample(t *testing.T) {
	block := between(t, readme(t), "errors-example")
	cmdLine, want, _ := strings.Cut(block, "\n")
	if cmdLine != "$ hakgen-agent validate --state state.yaml" {
		t.Fatalf("the example's command is %q", cmdLine)
	}
	data, err := os.ReadFile("testdata/errors-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/state.yaml", data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	code, stdout, stderr := runCLI(t, "validate", "--state", "state.yaml")
	if code != exitInvalid || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 1 and the README's:\n%s", code, stdout, stderr, want)
	}
}

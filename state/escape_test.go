package state_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/state"
)

// TestInputIsQuotedInMessages: a key holding a newline and an escape
// sequence, and values of any tag, reach the error quoted, so the file
// cannot forge output lines or drive a terminal.
func TestInputIsQuotedInMessages(t *testing.T) {
	data := minimal +
		"\"bad\\nstate.yaml:1:1: forged\\e[31m\": 1\n" +
		"apiServer: {port: !!int \"6\\e[2J\"}\n" +
		"workers:\n  - {name: w1, address: 10.0.0.21, \"a.b\": 1}\n"
	_, _, err := state.Parse("state.yaml", []byte(data))
	want := []string{
		`state.yaml:3:1: "bad\nstate.yaml:1:1: forged\x1b[31m": unknown field (expected one of apiServer, cluster, controlPlanes, discovery, extraPorts, floatingIP, floatingIPs, haproxy, hcloud, ingress, keepalived, loadBalancers, privateVIP, stats, workers)`,
		`state.yaml:4:19: apiServer.port: expected a whole number, got the number "6\x1b[2J"`,
		`state.yaml:6:36: workers[0]."a.b": unknown field (expected one of address, drain, name, weight)`,
	}
	if err == nil {
		t.Fatal("parsed without error")
	}
	if got := strings.Split(err.Error(), "\n"); !equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.ContainsAny(err.Error(), "\x1b\r") {
		t.Errorf("the error holds a raw control character: %q", err.Error())
	}
}

// TestForeignFileIsNotEchoed points the state path (a symlink) at files
// that are no state file: a shadow-like one, whose lines end in ':' and so
// parse as thousands of keys, and a passwd-like one, whose lines are one
// long value. The error is one line that repeats nothing of the file.
func TestForeignFileIsNotEchoed(t *testing.T) {
	var shadow, passwd strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&shadow, "user%04d:$6$s4lt%04d$Zm9vYmFyYmF6cXV4c2VjcmV0aGFzaA:19700:0:99999:7:::\n", i, i)
		fmt.Fprintf(&passwd, "user%04d:x:%d:%d:secret-gecos-%04d:/home/u:/bin/sh\n", i, 2000+i, 2000+i, i)
	}
	for name, c := range map[string]struct{ content, want string }{
		"shadow": {shadow.String(), ":1:1: none of the 5000 keys at the top is a field of the state, and some are no field names at all (expected cluster, controlPlanes, ...): is this the state file?"},
		// The lines are one plain scalar: YAML folds each line break
		// between them into a space and drops the last one.
		"passwd": {passwd.String(), fmt.Sprintf(":1:1: expected a mapping of fields (cluster, controlPlanes, ...), got a single value of %d bytes: is this the state file?", passwd.Len()-1)},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			foreign := filepath.Join(dir, name)
			writeFile(t, foreign, c.content, 0o600)
			link := filepath.Join(dir, "state.yaml")
			if err := os.Symlink(foreign, link); err != nil {
				t.Fatal(err)
			}
			_, _, err := state.Load(link)
			if err == nil || err.Error() != link+c.want {
				t.Fatalf("err = %.300v\nwant  %s", err, link+c.want)
			}
			if _, err := state.LoadForFailover(link); err == nil || err.Error() != link+c.want {
				t.Errorf("LoadForFailover: err = %.300v", err)
			}
		})
	}
}

// TestErrorsAreBounded: 20 000 bad control planes (under the 1 MiB limit)
// give an error of the first MaxReported problems and a count of the rest,
// not 20 000 lines.
func TestErrorsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("controlPlanes:\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "  - {name: CP%d, address: 10.%d.%d.1}\n", i, i/256, i%256)
	}
	if b.Len() > state.MaxFileSize {
		t.Fatalf("the file is %d bytes, over the limit", b.Len())
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "state.yaml")
	writeFile(t, path, b.String(), 0o644)
	_, _, err := state.Load(path)
	if err == nil {
		t.Fatal("loaded without error")
	}
	lines := strings.Split(err.Error(), "\n")
	wantFirst := path + `:2:12: controlPlanes[0].name: "CP0" is not a lowercase DNS label (expected 1-63 characters a-z, 0-9 and '-', starting and ending with a letter or digit)`
	wantLast := path + ": …and 19980 more problems (the first ones often cause the rest)"
	if len(lines) != state.MaxReported+1 || lines[0] != wantFirst || lines[len(lines)-1] != wantLast {
		t.Errorf("%d lines, first %q, last %q; want %d lines, first %q, last %q",
			len(lines), lines[0], lines[len(lines)-1], state.MaxReported+1, wantFirst, wantLast)
	}
	if n := len(err.Error()); n > 8<<10 {
		t.Errorf("the error is %d bytes", n)
	}
}

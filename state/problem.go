package state

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxReported is how many problems an error from Problems.Err lists; the
// rest are counted in a last line ("…and 19980 more problems"). So a file
// with thousands of mistakes, or one that is not a state file at all,
// gives an error short enough for a terminal, one journal line and the
// status file.
const MaxReported = 20

// maxMsg bounds one problem's path and message as printed, in bytes: a
// net under the bounds of what each message echoes of the input.
const maxMsg = 1024

// Problem is one thing wrong with a state file, at a place in it.
type Problem struct {
	File    string
	Pos     Pos    // zero when the problem has no place (e.g. an empty file)
	Path    string // field path such as workers[2].address; empty for the file itself
	Msg     string // what is wrong (what is expected)
	Warning bool   // true when the state is still usable

	// cause is the error behind a problem of the machine rather than of
	// the file (a secret file that cannot be read), for errors.Is.
	cause error
}

// Unwrap returns the error behind the problem, if any.
func (p Problem) Unwrap() error { return p.cause }

// Error formats the problem as FILE:LINE:COL: PATH: MSG, on one line:
// control characters in the path or message are escaped as Go does in
// quoted strings, and each is cut at 1 KiB.
func (p Problem) Error() string {
	var b strings.Builder
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.File)
	if p.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Pos.Line)
	}
	if p.Pos.Line > 0 && p.Pos.Col > 0 {
		fmt.Fprintf(&b, ":%d", p.Pos.Col)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(printable(p.Path))
		b.WriteString(": ")
	}
	b.WriteString(printable(p.Msg))
	return b.String()
}

// printable escapes the characters of s that a terminal or log reader
// would act on (control and format characters, such as newline, ESC or a
// right-to-left override) and cuts it at maxMsg bytes.
func printable(s string) string {
	if len(s) > maxMsg {
		s = clip(s, maxMsg)
	}
	if !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			q := fmt.Sprintf("%+q", r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// clip cuts s to at most n bytes at a character boundary and marks the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Problems are every problem found in one file, in file order.
type Problems []Problem

// Err returns the errors (not the warnings) joined, or nil when there are
// none. It lists the first MaxReported and counts the rest.
func (ps Problems) Err() error {
	var errs []error
	n, file := 0, ""
	for _, p := range ps {
		if p.Warning {
			continue
		}
		if n++; n <= MaxReported {
			errs = append(errs, p)
		}
		file = p.File
	}
	if more := n - MaxReported; more > 0 {
		errs = append(errs, fmt.Errorf("%s: …and %d more problems (the first ones often cause the rest)", file, more))
	}
	return errors.Join(errs...)
}

// Warnings returns the problems that do not make the state unusable.
func (ps Problems) Warnings() Problems {
	var ws Problems
	for _, p := range ps {
		if p.Warning {
			ws = append(ws, p)
		}
	}
	return ws
}

// Package selector reads and evaluates Hetzner Cloud label selectors, the
// `label_selector` of the API's list requests (`hcloud server list -l`).
//
// A selector is one or more requirements separated by commas, all of which
// must hold:
//
//	k=v, k==v      the label k has the value v
//	k!=v           the label k is missing or has another value
//	k in (a,b)     the label k has one of the values
//	k notin (a,b)  the label k is missing or has none of the values
//	k              the label k is present, with any value
//	!k             the label k is missing
//
// Keys and values follow Hetzner's label syntax: a key is an optional DNS
// subdomain prefix and a slash, then a name of 1-63 characters; a value has
// at most 63 characters; names and values begin and end with a letter or
// digit and hold letters, digits, '-', '_' and '.' between.
package selector

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Op is how a requirement compares a label.
type Op int

// The operators of a requirement.
const (
	Exists    Op = iota // k
	NotExists           // !k
	Equals              // k=v, k==v
	NotEquals           // k!=v
	In                  // k in (a,b)
	NotIn               // k notin (a,b)
)

// Requirement is one comma-separated part of a selector.
type Requirement struct {
	Key    string
	Op     Op
	Values []string // one for Equals and NotEquals, one or more for In and NotIn
}

// Selector is a parsed label selector: every requirement must match.
type Selector []Requirement

// maxLength bounds a selector's text: the API's own requests carry it in
// a URL.
const maxLength = 1024

var (
	setExpr = regexp.MustCompile(`^(\S+)\s+(in|notin)\s*\((.*)\)$`)
	name    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$`)
	prefix  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
)

// Parse reads a selector. Its errors name the requirement at fault and
// what was expected.
func Parse(text string) (Selector, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("empty label selector (expected e.g. role=worker)")
	}
	if len(text) > maxLength {
		return nil, fmt.Errorf("label selector of %d bytes, more than the %d allowed", len(text), maxLength)
	}
	parts, err := split(text)
	if err != nil {
		return nil, err
	}
	sel := make(Selector, 0, len(parts))
	for _, part := range parts {
		r, err := parseRequirement(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		sel = append(sel, r)
	}
	return sel, nil
}

// split cuts text at the commas outside parentheses.
func split(text string) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	for i, c := range text {
		switch c {
		case '(':
			if depth++; depth > 1 {
				return nil, fmt.Errorf("label selector %q: nested parentheses", text)
			}
		case ')':
			if depth--; depth < 0 {
				return nil, fmt.Errorf("label selector %q: ')' without '('", text)
			}
		case ',':
			if depth == 0 {
				parts = append(parts, text[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("label selector %q: '(' without ')'", text)
	}
	return append(parts, text[start:]), nil
}

func parseRequirement(part string) (Requirement, error) {
	if part == "" {
		return Requirement{}, fmt.Errorf("empty requirement (expected k=v, k!=v, k in (a,b), k notin (a,b), k or !k between the commas)")
	}
	if m := setExpr.FindStringSubmatch(part); m != nil {
		op := In
		if m[2] == "notin" {
			op = NotIn
		}
		var values []string
		for v := range strings.SplitSeq(m[3], ",") {
			values = append(values, strings.TrimSpace(v))
		}
		return requirement(part, m[1], op, values...)
	}
	if key, ok := strings.CutPrefix(part, "!"); ok && !strings.Contains(key, "=") {
		return requirement(part, strings.TrimSpace(key), NotExists)
	}
	for _, o := range []struct {
		sep string
		op  Op
	}{{"!=", NotEquals}, {"==", Equals}, {"=", Equals}} {
		if key, value, ok := strings.Cut(part, o.sep); ok {
			return requirement(part, strings.TrimSpace(key), o.op, strings.TrimSpace(value))
		}
	}
	return requirement(part, part, Exists)
}

// requirement checks the key and values of one requirement.
func requirement(part, key string, op Op, values ...string) (Requirement, error) {
	if err := checkKey(key); err != nil {
		return Requirement{}, fmt.Errorf("requirement %q: %w", part, err)
	}
	for _, v := range values {
		if err := checkValue(v, op == In || op == NotIn); err != nil {
			return Requirement{}, fmt.Errorf("requirement %q: %w", part, err)
		}
	}
	return Requirement{Key: key, Op: op, Values: values}, nil
}

func checkKey(key string) error {
	p, n, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		p, n = "", key
	}
	switch {
	case hasPrefix && (len(p) > 253 || !prefix.MatchString(p)):
		return fmt.Errorf("%q is not a label key prefix (expected a DNS subdomain such as example.com)", p)
	case !name.MatchString(n):
		return fmt.Errorf("%q is not a label key (expected 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)", n)
	}
	return nil
}

func checkValue(v string, inSet bool) error {
	if v == "" && !inSet {
		return nil // k= and k!= compare with the empty value
	}
	if !name.MatchString(v) {
		return fmt.Errorf("%q is not a label value (expected at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)", v)
	}
	return nil
}

// Matches reports whether labels meet every requirement.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// Matches reports whether labels meet the requirement.
func (r Requirement) Matches(labels map[string]string) bool {
	v, has := labels[r.Key]
	switch r.Op {
	case Exists:
		return has
	case NotExists:
		return !has
	case Equals:
		return has && v == r.Values[0]
	case NotEquals:
		return !has || v != r.Values[0]
	case In:
		return has && slices.Contains(r.Values, v)
	case NotIn:
		return !has || !slices.Contains(r.Values, v)
	}
	return false
}

// String writes the selector in the API's syntax.
func (s Selector) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func (r Requirement) String() string {
	switch r.Op {
	case NotExists:
		return "!" + r.Key
	case Equals:
		return r.Key + "=" + r.Values[0]
	case NotEquals:
		return r.Key + "!=" + r.Values[0]
	case In:
		return r.Key + " in (" + strings.Join(r.Values, ",") + ")"
	case NotIn:
		return r.Key + " notin (" + strings.Join(r.Values, ",") + ")"
	}
	return r.Key
}

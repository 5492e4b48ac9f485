package state

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder fills a Go value from a YAML node tree, strictly: unknown fields,
// duplicate keys, wrong types, anchors, aliases and merge keys are problems.
// It records where every field path was found, for validation messages.
type decoder struct {
	pos      map[string]Pos
	problems []Problem
}

var (
	durationType = reflect.TypeFor[Duration]()
	nameOrIDType = reflect.TypeFor[NameOrID]()
)

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{
		Pos: Pos{n.Line, n.Column}, Path: path, Msg: fmt.Sprintf(format, args...),
	})
}

// decode fills v from n. Nodes that are null leave v as it was, so values set
// before decoding act as defaults.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		d.fail(n, path, "YAML anchors and aliases are not allowed (write the value out)")
		return
	}
	d.pos[path] = Pos{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch {
	case v.Type() == durationType:
		d.duration(n, v, path)
	case v.Type() == nameOrIDType:
		d.nameOrID(n, v, path)
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case v.Kind() == reflect.Struct:
		d.mapping(n, v, path)
	case v.Kind() == reflect.Slice:
		d.sequence(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping of fields, got %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		name := key.Value
		switch {
		case key.Tag == "!!merge":
			d.fail(key, path, "YAML merge keys (<<) are not allowed (write the fields out)")
			continue
		case key.Kind != yaml.ScalarNode || key.Anchor != "":
			d.fail(key, path, "expected a field name, got %s", describe(key))
			continue
		}
		sub := join(path, keyName(name))
		if line, dup := seen[name]; dup {
			d.fail(key, sub, "duplicate field (first given on line %d)", line)
			continue
		}
		seen[name] = key.Line
		idx, ok := fields[name]
		if !ok {
			d.fail(key, sub, "unknown field (expected one of %s)", strings.Join(sortedKeys(fields), ", "))
			continue
		}
		d.decode(val, v.Field(idx), sub)
	}
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(out)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected %s, got %s", kindName(v.Kind()), describe(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		if n.Tag != "!!str" {
			d.fail(n, path, "expected a string, got %s (quote it: %q)", describe(n), echo(n.Value))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Tag != "!!bool" || err != nil {
			d.fail(n, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Tag != "!!int" || err != nil || (v.Kind() == reflect.Int && (i > math.MaxInt32 || i < math.MinInt32)) {
			d.fail(n, path, "expected a whole number, got %s", describe(n))
			return
		}
		v.SetInt(i)
	default:
		panic(fmt.Sprintf("state: no decoder for %s at %s", v.Type(), path))
	}
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a duration such as 5s, 15m or 1h, got %s", describe(n))
		return
	}
	dur, err := ParseDuration(n.Value)
	if err != nil {
		d.fail(n, path, "%q is not a duration (expected a whole number and a unit: ms, s, m, h or d, e.g. 5s)", echo(n.Value))
		return
	}
	v.Set(reflect.ValueOf(dur))
}

// nameOrID reads a name (a string) or an ID (a whole number).
func (d *decoder) nameOrID(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		d.fail(n, path, "expected a name or a numeric ID, got %s", describe(n))
		return
	}
	v.SetString(n.Value)
}

// yamlFields maps the yaml names of t's fields to their indexes.
func yamlFields(t reflect.Type) map[string]int {
	fields := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "" && name != "-" {
			fields[name] = i
		}
	}
	return fields
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// plainKey is a field name that reads the same unquoted in a path.
var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// keyName is how a field name from the file appears in a path: as it is
// when it is a plain name, else quoted like a value (and cut), so that a
// key holding a newline, an escape sequence or a dot cannot forge output
// or pass for a nested field.
func keyName(name string) string {
	if plainKey.MatchString(name) && len(name) <= maxEcho {
		return name
	}
	return strconv.Quote(echo(name))
}

// maxEcho bounds how much of one value from the file a message repeats,
// in bytes.
const maxEcho = 64

// echo returns s, or its first maxEcho bytes marked as cut, for a message
// that quotes it.
func echo(s string) string { return clip(s, maxEcho) }

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// describe names what a node holds, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("the string %q", echo(n.Value))
	case "!!int", "!!float":
		return "the number " + word(n.Value)
	case "!!bool":
		return "the boolean " + word(n.Value)
	}
	return fmt.Sprintf("%q", echo(n.Value))
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_.+-]{1,32}$`)

// word returns a scalar that YAML resolved as a number or boolean as it
// is, or quoted when an explicit tag (!!int) put anything else there.
func word(v string) string {
	if plainWord.MatchString(v) {
		return v
	}
	return strconv.Quote(echo(v))
}

// describeRoot names what a file holds instead of a mapping, without
// repeating any of it: a file that is not a state file (a symlink to the
// wrong file) may hold anything, secrets included.
func describeRoot(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return fmt.Sprintf("a list of %d items", len(n.Content))
	case yaml.ScalarNode:
		return fmt.Sprintf("a single value of %d bytes", len(n.Value))
	}
	return describe(n)
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	default:
		return "a whole number"
	}
}

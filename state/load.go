package state

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest state file accepted. Real files are a few KiB;
// the limit bounds memory and parse time for anything else.
const MaxFileSize = 1 << 20

// Load is LoadContext with no deadline of the caller's: DefaultReadTimeout
// bounds the reads.
func Load(path string) (*State, Problems, error) {
	return LoadContext(context.Background(), path)
}

// LoadContext reads the state file at path (following symlinks, as
// Kubernetes ConfigMap mounts need), parses and validates it and reads its
// secrets. It returns the State with its warnings; when the state is
// unusable it returns a nil State and an error joining every problem, each
// of which names the file, line, column and field.
//
// Only a regular file is read: a FIFO, a device or a directory at path is
// refused without blocking. ctx's deadline (DefaultReadTimeout when it has
// none) bounds reading the state and its secrets, so a file on a hung
// mount makes LoadContext fail in time rather than wait for the mount.
func LoadContext(ctx context.Context, path string) (*State, Problems, error) {
	return load(ctx, path, true)
}

// load reads, parses and validates the state file at path, and its
// secrets when secrets is set; see LoadContext.
func load(ctx context.Context, path string, secrets bool) (*State, Problems, error) {
	ctx, cancel := readContext(ctx)
	defer cancel()
	data, err := readBounded(ctx, path, func() ([]byte, error) { return readLimited(path, MaxFileSize) })
	if err != nil {
		return nil, nil, fmt.Errorf("reading state: %w", err)
	}
	s, warnings, err := Parse(path, data)
	if err != nil {
		return nil, warnings, err
	}
	s.dir = filepath.Dir(path)
	if secrets {
		if err := s.loadSecrets(ctx); err != nil {
			return nil, warnings, err
		}
	}
	return s, warnings, nil
}

// Parse parses and validates a state file's content; name is used in
// messages and relative secret paths are resolved against the working
// directory. It reads no files: call LoadSecrets before rendering a state
// that uses stats authentication.
func Parse(name string, data []byte) (*State, Problems, error) {
	s := Defaults()
	s.file = name
	s.pos = map[string]Pos{}
	problems, ok := s.decode(data)
	if !ok {
		return nil, nil, problems.Err()
	}
	return s.finish(problems)
}

// finish fills in the dependent defaults and validates s, adding the
// problems found in decoding.
func (s *State) finish(decoding Problems) (*State, Problems, error) {
	s.fillDefaults()
	problems := mergeProblems(decoding, s.Validate())
	if err := problems.Err(); err != nil {
		return nil, problems.Warnings(), err
	}
	return s, problems.Warnings(), nil
}

// decode fills s from the YAML in data. It returns the problems of fields
// it could not decode, and false when the file as a whole could not be read.
func (s *State) decode(data []byte) (Problems, bool) {
	if len(data) > MaxFileSize {
		return Problems{s.problem("", "the file is %d bytes, more than the %d allowed", len(data), MaxFileSize)}, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return Problems{s.problem("", "the file is empty (expected at least controlPlanes)")}, false
	case err != nil:
		return Problems{s.syntaxProblem(err, data)}, false
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		p := s.problem("", "more than one YAML document (expected one; remove the second ---)")
		p.Pos = Pos{next.Line, next.Column}
		if err != nil {
			p = s.syntaxProblem(err, data)
		}
		return Problems{p}, false
	}
	if p, foreign := s.foreign(doc.Content[0]); foreign {
		return Problems{p}, false
	}
	d := decoder{pos: s.pos}
	d.decode(doc.Content[0], reflectValue(s), "")
	for i := range d.problems {
		d.problems[i].File = s.file
	}
	return d.problems, true
}

// foreign reports a document that is not a state file at all (the state
// path points to the wrong file): one that is no mapping, or a mapping
// without a single state field and with keys that are no field names.
// Its problem repeats nothing of the file, which may hold anything.
func (s *State) foreign(root *yaml.Node) (Problem, bool) {
	p := s.problem("", "")
	p.Pos = Pos{root.Line, root.Column}
	if root.Kind != yaml.MappingNode && root.Kind != yaml.AliasNode {
		p.Msg = "expected a mapping of fields (cluster, controlPlanes, ...), got " + describeRoot(root) + ": is this the state file?"
		return p, true
	}
	if root.Kind == yaml.AliasNode {
		return p, false
	}
	fields := yamlFields(reflectValue(s).Type())
	odd := false
	for i := 0; i < len(root.Content); i += 2 {
		key := root.Content[i]
		if _, known := fields[key.Value]; known {
			return p, false
		}
		odd = odd || !plainKey.MatchString(key.Value)
	}
	if !odd {
		return p, false // a state file with only mistyped fields: each is named
	}
	p.Msg = fmt.Sprintf("none of the %d keys at the top is a field of the state, and some are no field names at all (expected cluster, controlPlanes, ...): is this the state file?", len(root.Content)/2)
	return p, true
}

// mergeProblems adds the validation problems to the decoding problems,
// leaving out those about a field that could not be decoded: its value is
// only the default, and the decoding problem already names it.
func mergeProblems(decoding, validation Problems) Problems {
	all := decoding
	for _, p := range validation {
		if !coveredBy(p.Path, decoding) {
			all = append(all, p)
		}
	}
	sortProblems(all)
	return all
}

func coveredBy(path string, problems Problems) bool {
	for _, d := range problems {
		if d.Path == "" || path == d.Path || strings.HasPrefix(path, d.Path+".") || strings.HasPrefix(path, d.Path+"[") {
			return true
		}
	}
	return false
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a YAML parser error about data into a Problem with
// its line and, where it can be found, its column.
func (s *State) syntaxProblem(err error, data []byte) Problem {
	p := s.problem("", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.Pos = Pos{Line: line}
		p.Msg = "invalid YAML: " + m[2]
	}
	if pos, msg, ok := syntaxPos(data); ok {
		p.Pos, p.Msg = pos, "invalid YAML: "+msg // Problem.Error escapes it
	}
	return p
}

func (s *State) problem(path, format string, args ...any) Problem {
	return Problem{File: s.file, Pos: s.at(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// at returns where path, or the nearest enclosing field present in the
// file, was written; the zero Pos when none was.
func (s *State) at(path string) Pos {
	for path != "" {
		if p, ok := s.pos[path]; ok {
			return p
		}
		path = parent(path)
	}
	return Pos{}
}

var lastPart = regexp.MustCompile(`(\.[^.\[]+|\[\d+\])$`)

// parent returns the path of the field enclosing path: "workers" for
// "workers[2]", "" for a top-level field.
func parent(path string) string {
	if loc := lastPart.FindStringIndex(path); loc != nil {
		return path[:loc[0]]
	}
	return ""
}

// has reports whether path was written in the file.
func (s *State) has(path string) bool {
	_, ok := s.pos[path]
	return ok
}

// Hash identifies the desired state: the SHA-256 of its canonical JSON with
// defaults filled in, so comments and formatting do not change it. Secrets
// are not part of it.
func (s *State) Hash() string {
	data, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("state: hashing: %v", err)) // only plain fields: cannot fail
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Package render turns a desired state into configuration files:
// haproxy.cfg and keepalived.conf. Rendering is pure: the same state gives
// the same bytes, and nothing is read or written.
package render

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"text/template"

	"github.com/hakgen/hakgen/state"
)

//go:embed haproxy.cfg.tmpl
var haproxyTemplate string

var haproxyTmpl = template.Must(template.New("haproxy.cfg").
	Funcs(template.FuncMap{"w": word}).
	Option("missingkey=error").
	Parse(haproxyTemplate))

// safeWord is what any value written into a generated file must look like:
// no space, quote, comment sign, backslash or line break can ever reach it.
var safeWord = regexp.MustCompile(`^[A-Za-z0-9._:/$@\[\],-]+$`)

// word lets a value into a configuration file only if it is one safe word.
// Validation already guarantees this; word is the last line of defence
// against a directive injected through a name.
func word(v any) (string, error) {
	s := fmt.Sprint(v)
	if !safeWord.MatchString(s) {
		return "", fmt.Errorf("refusing to write %q into a configuration file: not a single safe word", s)
	}
	return s, nil
}

// HAProxy renders haproxy.cfg for s. s must have passed validation, and its
// secrets must have been loaded (state.Load does both); an error means s
// was not valid.
func HAProxy(s *state.State) ([]byte, error) {
	view, err := newHAProxyView(s)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(4096 + 96*(len(s.ControlPlanes)+len(s.Workers))*(2+len(s.ExtraPorts)))
	if err := haproxyTmpl.Execute(&buf, view); err != nil {
		return nil, fmt.Errorf("rendering haproxy.cfg: %w", err)
	}
	return buf.Bytes(), nil
}

// addr formats a server address for HAProxy: IPv6 in brackets.
func addr(host string, port int) string {
	p := strconv.Itoa(port)
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		return "[" + host + "]:" + p
	}
	return host + ":" + p
}

// Package render turns a desired state into configuration files:
// haproxy.cfg and keepalived.conf. Rendering is pure: the same state gives
// the same bytes, and nothing is read or written.
package render

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"text/template"

	"github.com/hakgen/hakgen/state"
)

//go:embed haproxy.cfg.tmpl
var haproxyTemplate string

var haproxyTmpl = template.Must(template.New("haproxy.cfg").
	Funcs(template.FuncMap{"w": word}).
	Option("missingkey=error").
	Parse(haproxyTemplate))

// word lets a value into a configuration file only if it is one safe word:
// letters, digits and . _ : / $ @ [ ] , - only, so no space, quote, comment
// sign, backslash or line break can ever reach the file. Validation already
// guarantees this; word is the last line of defence against a directive
// injected through a name.
func word(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	if s == "" || strings.IndexFunc(s, unsafeRune) >= 0 {
		return "", fmt.Errorf("refusing to write %q into a configuration file: not a single safe word", s)
	}
	return s, nil
}

// safeWord is word for a string, without the conversion: serverLines
// checks every name and address with it.
func safeWord(s string) error {
	for i := 0; i < len(s); i++ {
		if !safeByte[s[i]] {
			return fmt.Errorf("refusing to write %q into a configuration file: not a single safe word", s)
		}
	}
	if s == "" {
		return fmt.Errorf("refusing to write %q into a configuration file: not a single safe word", s)
	}
	return nil
}

// safeByte is unsafeRune's complement for single bytes (every byte of a
// multi-byte rune is unsafe).
var safeByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x80 && !unsafeRune(rune(c))
	}
	return t
}()

func unsafeRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("._:/$@[],-", r)
}

// HAProxy renders haproxy.cfg for s as written, for no particular node.
// s must have passed validation, and its secrets must have been loaded
// (state.Load does both); an error means s was not valid.
func HAProxy(s *state.State) ([]byte, error) { return HAProxyFor(s, "") }

// HAProxyFor renders haproxy.cfg for the load balancer named node: a stats
// bind on the address of any load balancer becomes this node's address
// (see state.StatsBind). An empty node renders the state as written.
func HAProxyFor(s *state.State, node string) ([]byte, error) {
	return HAProxyWith(s, HAProxyOptions{Node: node})
}

// HAProxyOptions choose the node haproxy.cfg is rendered for and the
// files it names.
type HAProxyOptions struct {
	// Node is the load balancer the file is for ("": as written).
	Node string
	// ServerStateFile is the server-state-file HAProxy keeps its servers'
	// state in across reloads; ServerStateFile when empty.
	ServerStateFile string
}

// HAProxyWith renders haproxy.cfg with opts.
func HAProxyWith(s *state.State, opts HAProxyOptions) ([]byte, error) {
	view, err := newHAProxyView(s, opts)
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
	var b strings.Builder
	writeAddr(&b, host, strconv.Itoa(port))
	return b.String()
}

// writeAddr writes host:port, an IPv6 host in brackets. Only a host with
// a colon can be IPv6: the others need no parsing.
func writeAddr(b *strings.Builder, host, port string) {
	if strings.IndexByte(host, ':') >= 0 {
		if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
			b.WriteByte('[')
			b.WriteString(host)
			b.WriteString("]:")
			b.WriteString(port)
			return
		}
	}
	b.WriteString(host)
	b.WriteByte(':')
	b.WriteString(port)
}

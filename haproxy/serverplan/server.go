package serverplan

import (
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// server is a server line read with its default-server keywords.
type server struct {
	name string
	addr netip.AddrPort // valid when given by an IP address
	host string         // a DNS name, else empty
	port int
	// own are the keywords of the server line, one per name; inherited
	// those of the default-server lines in effect, shared by the servers
	// below them. all() is every keyword in effect.
	own, inherited []keyword
	// key is the line with the default-server lines above it in its
	// section: servers of equal keys are equal.
	key serverKey
}

// parseServer reads a server line strictly: every word safe, an address
// with a port, keywords known with their arguments. inherited are the
// default-server keywords in effect for it (see defaultKeywords).
func parseServer(l line, inherited []keyword) (server, error) {
	var buf [32]string
	words := appendFields(buf[:0], l.text)
	if len(words) < 3 {
		return server{}, fmt.Errorf("line %d: %q: want server NAME ADDRESS:PORT [KEYWORDS]", l.no, l.text)
	}
	for _, w := range words {
		if strings.IndexFunc(w, unsafeRune) >= 0 {
			return server{}, fmt.Errorf("line %d: %q: %q is not a plain word", l.no, l.text, w)
		}
	}
	s := server{name: words[1]}
	if err := s.setAddress(words[2]); err != nil {
		return server{}, fmt.Errorf("line %d: server %s: %w", l.no, s.name, err)
	}
	own, err := parseKeywords(make([]keyword, 0, len(words)-3), words[3:])
	if err != nil {
		return server{}, fmt.Errorf("line %d: server %s: %w", l.no, s.name, err)
	}
	s.own, s.inherited = own, inherited
	if _, err := s.weight(); err != nil {
		return server{}, fmt.Errorf("line %d: server %s: %w", l.no, s.name, err)
	}
	return s, nil
}

// appendFields appends the space-separated words of a normalized line.
func appendFields(dst []string, text string) []string {
	for text != "" {
		var w string
		w, text, _ = strings.Cut(text, " ")
		if w != "" {
			dst = append(dst, w)
		}
	}
	return dst
}

func unsafeRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("._:/@[],-", r)
}

// setAddress reads IP:PORT, [IPv6]:PORT or NAME:PORT.
func (s *server) setAddress(w string) error {
	if ap, err := netip.ParseAddrPort(w); err == nil && ap.Port() != 0 && ap.Addr().Zone() == "" {
		s.addr, s.port = ap, int(ap.Port())
		return nil
	}
	i := strings.LastIndexByte(w, ':')
	if i < 0 {
		return fmt.Errorf("address %q has no port", w)
	}
	host, port := w[:i], w[i+1:]
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q: port %q is not a single port 1-65535", w, port)
	}
	if host == "" || strings.IndexFunc(host, notDNSRune) >= 0 {
		return fmt.Errorf("address %q is neither IP:PORT, [IPv6]:PORT nor NAME:PORT", w)
	}
	s.host, s.port = host, n
	return nil
}

func notDNSRune(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.')
}

// all yields every keyword in effect: the server line's own, then the
// inherited ones it does not override.
func (s server) all() iter.Seq[keyword] {
	return func(yield func(keyword) bool) {
		for _, k := range s.own {
			if !yield(k) {
				return
			}
		}
		for _, k := range s.inherited {
			if !ownHas(s.own, k.name) && !yield(k) {
				return
			}
		}
	}
}

func ownHas(own []keyword, name string) bool {
	return slices.ContainsFunc(own, func(k keyword) bool { return k.name == name })
}

func (s server) has(name string) bool {
	for k := range s.all() {
		if k.name == name {
			return true
		}
	}
	return false
}

// weight is the weight in effect: 1 unless a `weight` keyword says.
func (s server) weight() (int, error) {
	for k := range s.all() {
		if k.name == "weight" {
			n, err := strconv.Atoi(k.arg)
			if err != nil || n < 0 || n > 256 {
				return 0, fmt.Errorf("weight %q is not 0-256", k.arg)
			}
			return n, nil
		}
	}
	return 1, nil
}

// sameSettings reports whether a and b have the same keywords in effect
// but weight, in any order: what must hold for a server to change at
// runtime.
func sameSettings(a, b server) bool {
	count := 0
	for k := range a.all() {
		if k.name == "weight" {
			continue
		}
		count++
		if !slices.Contains(slices.Collect(b.all()), k) {
			return false
		}
	}
	for k := range b.all() {
		if k.name != "weight" {
			count--
		}
	}
	return count == 0
}

// settings are the keywords in effect but weight, in a canonical order,
// for messages.
func (s server) settings() string {
	var parts []string
	for k := range s.all() {
		if k.name != "weight" {
			parts = append(parts, k.String())
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// addKeywords are the words after the address in `add server`: every
// keyword in effect, resolution ones left out (the address is an IP).
func (s server) addKeywords() []string {
	var words []string
	for k := range s.all() {
		if serverKeywords[k.name].kind == dynamic {
			words = k.words(words)
		}
	}
	return words
}

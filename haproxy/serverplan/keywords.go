package serverplan

import (
	"fmt"
	"slices"
	"strings"
)

// keywordKind says what the runtime path can do with a server keyword.
type keywordKind int

const (
	// dynamic keywords are accepted by `add server` (HAProxy 2.6's list in
	// its management guide, "add server").
	dynamic keywordKind = iota
	// resolution keywords configure how a DNS name is resolved. `add server`
	// refuses them; on a server given by an IP address they do nothing, so
	// they are left out of its `add server`.
	resolution
)

type keywordSpec struct {
	args int // 0 or 1
	kind keywordKind
}

// serverKeywords are the server and default-server keywords the runtime
// path knows, with their number of arguments. A server line with any other
// keyword (agent checks, track, cookie, disabled, source, id, no-...) is
// left to a reload.
var serverKeywords = map[string]keywordSpec{}

func init() {
	flags := []string{"check", "check-send-proxy", "check-ssl", "check-via-socks4", "send-proxy",
		"send-proxy-v2", "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn", "ssl", "backup", "no-ssl-reuse",
		"no-tls-tickets", "tls-tickets", "allow-0rtt", "tfo", "force-sslv3", "force-tlsv10",
		"force-tlsv11", "force-tlsv12", "force-tlsv13", "no-sslv3", "no-tlsv10", "no-tlsv11",
		"no-tlsv12", "no-tlsv13"}
	valued := []string{"inter", "fastinter", "downinter", "fall", "rise", "weight", "maxconn",
		"maxqueue", "minconn", "slowstart", "on-marked-down", "on-marked-up", "on-error",
		"error-limit", "observe", "verify", "verifyhost", "sni", "alpn", "npn", "check-alpn",
		"check-proto", "check-sni", "ca-file", "crl-file", "crt", "ciphers", "ciphersuites",
		"ssl-min-ver", "ssl-max-ver", "proto", "proxy-v2-options", "pool-low-conn",
		"pool-max-conn", "pool-purge-delay", "addr", "port", "ws"}
	for _, k := range flags {
		serverKeywords[k] = keywordSpec{args: 0, kind: dynamic}
	}
	for _, k := range valued {
		serverKeywords[k] = keywordSpec{args: 1, kind: dynamic}
	}
	for _, k := range []string{"init-addr", "resolvers", "resolve-prefer", "resolve-net", "resolve-opts"} {
		serverKeywords[k] = keywordSpec{args: 1, kind: resolution}
	}
}

// keyword is a keyword with its argument, if it takes one.
type keyword struct {
	name, arg string
}

func (k keyword) String() string {
	if k.arg == "" {
		return k.name
	}
	return k.name + " " + k.arg
}

// words appends the keyword as words of a command.
func (k keyword) words(dst []string) []string {
	if k.arg == "" {
		return append(dst, k.name)
	}
	return append(dst, k.name, k.arg)
}

// defaultKeywords reads default-server lines, outermost first, into the
// keywords they give a server below them.
func defaultKeywords(lines []line) ([]keyword, error) {
	var inherited []keyword
	for _, d := range lines {
		words := strings.Fields(d.text)
		for _, w := range words {
			if strings.IndexFunc(w, unsafeRune) >= 0 {
				return nil, fmt.Errorf("line %d: %q: %q is not a plain word", d.no, d.text, w)
			}
		}
		kws, err := parseKeywords(nil, words[1:])
		if err != nil {
			return nil, fmt.Errorf("line %d: default-server: %w", d.no, err)
		}
		inherited = merge(inherited, kws)
	}
	return inherited, nil
}

// parseKeywords appends keywords read from words to dst; a later keyword
// of the same name replaces an earlier one, as HAProxy applies them in
// order.
func parseKeywords(dst []keyword, words []string) ([]keyword, error) {
	for i := 0; i < len(words); i++ {
		spec, ok := serverKeywords[words[i]]
		if !ok {
			return nil, fmt.Errorf("keyword %q is not one the runtime path knows", words[i])
		}
		k := keyword{name: words[i]}
		if spec.args == 1 {
			if i+1 >= len(words) {
				return nil, fmt.Errorf("keyword %q wants an argument", words[i])
			}
			i++
			k.arg = words[i]
		}
		dst = set(dst, k)
	}
	return dst, nil
}

// merge returns base with each of over replacing the keyword of its name,
// or appended.
func merge(base, over []keyword) []keyword {
	out := slices.Clone(base)
	for _, k := range over {
		out = set(out, k)
	}
	return out
}

// set replaces the keyword of k's name in list, or appends k.
func set(list []keyword, k keyword) []keyword {
	for i := range list {
		if list[i].name == k.name {
			list[i] = k
			return list
		}
	}
	return append(list, k)
}

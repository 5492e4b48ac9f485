package serverplan

import "strings"

// sectionKeywords are the words that open a section of haproxy.cfg
// (HAProxy 2.6 to 3.x).
var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"userlist": true, "peers": true, "resolvers": true, "mailers": true, "program": true,
	"http-errors": true, "ring": true, "cache": true, "log-forward": true, "fcgi-app": true,
	"crt-store": true, "traces": true, "acme": true,
}

// config is a haproxy.cfg cut into sections, comments and blank lines
// left out.
type config struct {
	sections []*section
}

// section is one section: its header, its lines other than servers, and,
// in a backend or listen section, its server lines apart.
type section struct {
	kind   string // "global", "defaults", "backend", ...
	name   string // empty for global and an anonymous defaults section
	header line
	lines  []line // every line but the header and server lines, in order
	// servers are the server lines of a backend or listen section. Each
	// remembers the default-server lines of its section above it, which
	// apply to it.
	servers []serverLine
	// defaults is the defaults section a proxy takes its defaults from: the
	// one it names with `from`, else the last one above it.
	defaults *section
}

// line is a normalized line: spacing collapsed (unless it has quotes or a
// backslash), and its number in the file.
type line struct {
	no   int
	text string
}

type serverLine struct {
	line
	defaultServers []line // default-server lines of the section above it
}

// proxy reports whether servers of this section are runtime-managed: a
// server line means a backend server only in backend and listen sections
// (peers and ring sections have server lines of their own kind).
func (s *section) proxy() bool { return s.kind == "backend" || s.kind == "listen" }

// parseConfig cuts data into sections. It never fails: lines it cannot
// read are kept as text, so any change to them is a difference.
func parseConfig(data []byte) *config {
	c := &config{}
	cur := &section{} // lines before the first section
	c.sections = append(c.sections, cur)
	var lastDefaults *section
	named := map[string]*section{}
	var sectionDefaultServers []line
	text := string(data)
	for no := 1; text != ""; no++ {
		var raw string
		raw, text, _ = strings.Cut(text, "\n")
		l, ok := normalize(raw)
		if !ok {
			continue
		}
		l.no = no
		first, rest, _ := strings.Cut(l.text, " ")
		if sectionKeywords[first] {
			cur = &section{kind: first, header: l}
			cur.name, _, _ = strings.Cut(rest, " ")
			switch {
			case first == "defaults":
				lastDefaults = cur
				if cur.name != "" {
					named[cur.name] = cur
				}
			case cur.proxy():
				cur.defaults = lastDefaults
				if from := fromDefaults(rest); from != "" {
					cur.defaults = named[from]
				}
			}
			sectionDefaultServers = nil
			c.sections = append(c.sections, cur)
			continue
		}
		switch {
		case first == "server" && cur.proxy():
			cur.servers = append(cur.servers, serverLine{line: l, defaultServers: sectionDefaultServers})
			continue
		case first == "default-server":
			sectionDefaultServers = append(sectionDefaultServers[:len(sectionDefaultServers):len(sectionDefaultServers)], l)
		}
		cur.lines = append(cur.lines, l)
	}
	return c
}

// fromDefaults returns NAME of a proxy header's "from NAME".
func fromDefaults(rest string) string {
	words := strings.Fields(rest)
	for i := 0; i+1 < len(words); i++ {
		if words[i] == "from" {
			return words[i+1]
		}
	}
	return ""
}

// normalize drops comments and blank lines (ok false) and collapses
// spacing. A line with a quote or a backslash keeps its inner spacing:
// there, spacing can be part of a word.
func normalize(raw string) (line, bool) {
	s := strings.TrimSpace(raw)
	if s == "" || s[0] == '#' {
		return line{}, false
	}
	if strings.ContainsAny(s, "\"'\\") || !strings.Contains(s, "  ") && !strings.ContainsAny(s, "\t\r\v\f") {
		return line{text: s}, true
	}
	return line{text: strings.Join(strings.Fields(s), " ")}, true
}

// title names a section in messages: "global section", "backend kube-api".
func (s *section) title() string {
	switch {
	case s.kind == "":
		return "the lines before the first section"
	case s.name == "":
		return s.kind + " section"
	}
	return s.kind + " " + s.name
}

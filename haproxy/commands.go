package haproxy

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Command is one Runtime API command that changes a server, built by the
// functions below and sent with Worker.Run. It knows what HAProxy answers
// when it succeeds: every other answer is an error.
//
// Every word of a command (backend, server, keyword) must be one safe word:
// letters, digits and . _ : / @ [ ] , - only. A word with a space, ';', '#',
// a quote, a backslash or a line break is refused before anything is sent,
// so no input can add a second command.
type Command struct {
	words []string
	ok    func(answer string) bool
}

// String returns the command as it is sent.
func (c Command) String() string { return strings.Join(c.words, " ") }

func (c Command) text() (string, error) {
	for _, w := range c.words {
		if w == "" || strings.IndexFunc(w, unsafeCLIRune) >= 0 {
			return "", fmt.Errorf("refusing to send %q to haproxy: %q is not a single safe word", c.String(), w)
		}
	}
	return c.String(), nil
}

func unsafeCLIRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("._:/@[],-", r)
}

// AdminTarget is a state `set server ... state` puts a server in.
type AdminTarget string

// The states of `set server ... state`.
const (
	StateReady AdminTarget = "ready" // takes connections
	StateDrain AdminTarget = "drain" // no new connections from load balancing; checked
	StateMaint AdminTarget = "maint" // no new connections, no checks
)

// AddServer is `add server BACKEND/SERVER ADDR:PORT KEYWORDS...`. The new
// server starts in maintenance, with its checks disabled: it takes
// connections after EnableHealth (when it has `check`) and EnableServer.
// It inherits no `default-server` keyword: keywords must spell them out.
func AddServer(backend, server string, addr netip.AddrPort, keywords []string) Command {
	words := append([]string{"add", "server", backend + "/" + server, addrPort(addr)}, keywords...)
	return Command{words: words, ok: answers("New server registered.")}
}

// EnableHealth is `enable health BACKEND/SERVER`: starts the health checks.
func EnableHealth(backend, server string) Command {
	return Command{words: []string{"enable", "health", backend + "/" + server}, ok: empty}
}

// EnableServer is `enable server BACKEND/SERVER`: ends maintenance.
func EnableServer(backend, server string) Command {
	return Command{words: []string{"enable", "server", backend + "/" + server}, ok: empty}
}

// SetServerState is `set server BACKEND/SERVER state ready|drain|maint`.
func SetServerState(backend, server string, state AdminTarget) Command {
	return Command{words: []string{"set", "server", backend + "/" + server, "state", string(state)}, ok: empty}
}

// SetServerAddr is `set server BACKEND/SERVER addr ADDR port PORT`. New
// connections go to the new address; established ones stay where they are.
func SetServerAddr(backend, server string, addr netip.AddrPort) Command {
	return Command{
		words: []string{"set", "server", backend + "/" + server, "addr", addr.Addr().String(), "port", strconv.Itoa(int(addr.Port()))},
		ok:    addrChanged,
	}
}

// SetServerWeight is `set server BACKEND/SERVER weight W` (0 to 256; 0
// takes the server out of load balancing, as a drain does).
func SetServerWeight(backend, server string, weight int) Command {
	return Command{words: []string{"set", "server", backend + "/" + server, "weight", strconv.Itoa(weight)}, ok: empty}
}

// ShutdownSessions is `shutdown sessions server BACKEND/SERVER`: closes
// every session established with the server.
func ShutdownSessions(backend, server string) Command {
	return Command{words: []string{"shutdown", "sessions", "server", backend + "/" + server}, ok: empty}
}

// DelServer is `del server BACKEND/SERVER`. HAProxy refuses it unless the
// server is in maintenance and has no session, idle connection or queue.
func DelServer(backend, server string) Command {
	return Command{words: []string{"del", "server", backend + "/" + server}, ok: answers("Server deleted.")}
}

// addrPort formats an address for a server line: IPv6 in brackets.
func addrPort(a netip.AddrPort) string {
	if a.Addr().Is6() {
		return "[" + a.Addr().String() + "]:" + strconv.Itoa(int(a.Port()))
	}
	return a.String()
}

// empty accepts the answer of commands that print nothing on success.
func empty(answer string) bool { return strings.TrimSpace(answer) == "" }

// answers accepts exactly msg, with any trailing newlines.
func answers(msg string) func(string) bool {
	return func(answer string) bool { return strings.TrimRight(answer, "\n") == msg }
}

// addrAnswer is what `set server ... addr` prints on success: 2.6 says
// "IP changed from 'A' to 'B', port changed from 'P' to 'Q' by 'stats
// socket command'" or "no need to change the addr[, ...]"; 3.0 leaves out
// the unchanged parts, or says "nothing changed".
var addrAnswer = regexp.MustCompile(`^(nothing changed|` +
	`(IP changed from '[^']*' to '[^']*'|no need to change the addr|port changed from '[^']*' to '[^']*')` +
	`(, (port changed from '[^']*' to '[^']*'|no need to change the port))?` +
	` by '[^']*')$`)

func addrChanged(answer string) bool { return addrAnswer.MatchString(strings.TrimRight(answer, "\n")) }

package lab

import (
	"net"
	"os"
	"strings"
)

// syslogReceiver is a load balancer's /dev/log: a unix datagram socket of
// the lab's, bound into the node, whose messages go to the node's journal
// under their syslog identifier (Keepalived_vrrp, haproxy, hakgen-agent).
type syslogReceiver struct {
	conn *net.UnixConn
	done chan struct{}
}

func listenSyslog(path string, j *Journal) (*syslogReceiver, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	// Everyone may log, as on /dev/log: HAProxy writes after dropping
	// its privileges.
	if err := os.Chmod(path, 0o666); err != nil {
		conn.Close()
		return nil, err
	}
	r := &syslogReceiver{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			source, text := parseSyslog(string(buf[:n]))
			j.Add(source, text)
		}
	}()
	return r, nil
}

func (r *syslogReceiver) Close() {
	r.conn.Close()
	<-r.done
}

// parseSyslog splits a local syslog message, "<PRI>Mmm dd hh:mm:ss
// TAG[PID]: MSG" as glibc and HAProxy write it, into the identifier and
// the message. What does not parse is returned whole, as from "syslog".
func parseSyslog(msg string) (source, text string) {
	msg = strings.TrimRight(msg, "\n\x00")
	rest := msg
	if strings.HasPrefix(rest, "<") {
		if i := strings.IndexByte(rest, '>'); i > 0 {
			rest = rest[i+1:]
		}
	}
	if len(rest) >= 16 && rest[3] == ' ' && rest[9] == ':' && rest[12] == ':' && rest[15] == ' ' {
		rest = rest[16:]
	}
	tag, body, ok := strings.Cut(rest, ": ")
	if !ok || tag == "" || strings.ContainsAny(tag, " ") {
		return "syslog", msg
	}
	if i := strings.IndexByte(tag, '['); i > 0 {
		tag = tag[:i]
	}
	return tag, body
}

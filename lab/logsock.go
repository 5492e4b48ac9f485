package lab

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// logReceiver is a unix datagram socket of the lab's, bound into a load
// balancer as its /dev/log or as journald's socket, whose messages go to
// the node's journal under their identifier (Keepalived_vrrp, haproxy,
// hakgen-notify).
type logReceiver struct {
	conn *net.UnixConn
	done chan struct{}
}

// parseFunc turns one datagram (and the files passed with it) into a
// journal entry.
type parseFunc func(data []byte, files []*os.File) (source, text string)

func listenLog(path string, j *Journal, parse parseFunc) (*logReceiver, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	// Everyone may log, as on a real host: HAProxy writes after dropping
	// its privileges.
	if err := os.Chmod(path, 0o666); err != nil {
		conn.Close()
		return nil, err
	}
	r := &logReceiver{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf, oob := make([]byte, 256<<10), make([]byte, 1024)
		for {
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				return
			}
			files := passedFiles(oob[:oobn])
			source, text := parse(buf[:n], files)
			for _, f := range files {
				f.Close()
			}
			j.Add(source, text)
		}
	}()
	return r, nil
}

func (r *logReceiver) Close() {
	r.conn.Close()
	<-r.done
}

// passedFiles returns the files a datagram carried (SCM_RIGHTS).
func passedFiles(oob []byte) []*os.File {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var out []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			out = append(out, os.NewFile(uintptr(fd), "passed"))
		}
	}
	return out
}

// parseSyslog splits a local syslog message, "<PRI>Mmm dd hh:mm:ss
// TAG[PID]: MSG" as glibc and HAProxy write it, into the identifier and
// the message. What does not parse is returned whole, as from "syslog".
func parseSyslog(data []byte, _ []*os.File) (source, text string) {
	msg := strings.TrimRight(string(data), "\n\x00")
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

// journalLevels names the priorities worth marking (0-4: emerg to warning).
var journalLevels = []string{"emerg", "alert", "crit", "error", "warning"}

// parseJournal reads one entry of journald's native protocol (what
// sd_journal_send and go-systemd's journal.Send write): fields "KEY=value\n",
// or "KEY\n" with a little-endian 64-bit length and the value for values
// with newlines; an entry too large for a datagram comes as a passed file.
// The source is SYSLOG_IDENTIFIER; warnings and worse are marked.
func parseJournal(data []byte, files []*os.File) (source, text string) {
	if len(data) == 0 && len(files) == 1 {
		if content, err := io.ReadAll(io.LimitReader(files[0], 1<<20)); err == nil {
			data = content
		}
	}
	fields := map[string]string{}
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		if key, value, ok := bytes.Cut(line, []byte("=")); ok {
			fields[string(key)], data = string(value), rest
			continue
		}
		if len(rest) < 8 {
			break
		}
		n := binary.LittleEndian.Uint64(rest[:8])
		if uint64(len(rest)-8) < n {
			break
		}
		fields[string(line)] = string(rest[8 : 8+n])
		data = bytes.TrimPrefix(rest[8+n:], []byte("\n"))
	}
	source, text = fields["SYSLOG_IDENTIFIER"], fields["MESSAGE"]
	if source == "" {
		source = "journal"
	}
	if p, err := strconv.Atoi(fields["PRIORITY"]); err == nil && p >= 0 && p < len(journalLevels) {
		text = "[" + journalLevels[p] + "] " + text
	}
	return source, text
}

package haproxy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Worker sends Runtime API commands (add server, set server, show servers
// state, ...) to one HAProxy worker: the one that was current when
// CurrentWorker pinned it. Nothing it sends can reach an old worker.
//
// Commands go through the master CLI as `@1 show info; @1 COMMAND` on one
// connection. `@1` is resolved by the master to its current worker, never to
// an old one that a reload left draining connections, and the `show info`
// in front tells which worker that was: the master re-executes itself on a
// reload, which closes every CLI connection, so both halves of one answer
// come from the same worker. When that worker is not the pinned one, a
// reload happened since CurrentWorker: the command reached the new worker,
// and the call returns an error wrapping ErrWorkerChanged, so the caller
// knows the pinned worker's view is gone and reloads.
//
// A Worker holds no connection; it is safe for concurrent use, but commands
// of concurrent callers interleave.
type Worker struct {
	master *Master
	pid    int
}

// CurrentWorker pins the worker the master lists as current (`show proc`)
// after checking that `@1` reaches it.
func CurrentWorker(ctx context.Context, m *Master) (*Worker, error) {
	procs, err := m.ShowProc(ctx)
	if err != nil {
		return nil, err
	}
	cur, ok := procs.Current()
	if !ok {
		return nil, fmt.Errorf("master cli %s: show proc lists no current worker", m.socket())
	}
	w := &Worker{master: m, pid: cur.PID}
	if _, err := w.ask(ctx, "show info"); err != nil {
		return nil, err
	}
	return w, nil
}

// PID is the process ID of the pinned worker.
func (w *Worker) PID() int { return w.pid }

// ErrWorkerChanged is wrapped by the errors of commands that reached
// another worker than the pinned one: HAProxy reloaded meanwhile.
var ErrWorkerChanged = errors.New("haproxy reloaded: the pinned worker is no longer current")

// WorkerChangedError is a command that reached worker Got instead of the
// pinned worker Pinned. The command may have run on Got; its answer is kept.
type WorkerChangedError struct {
	Command string
	Pinned  int
	Got     int
	Answer  string
}

func (e *WorkerChangedError) Error() string {
	return fmt.Sprintf("haproxy reloaded: %q reached worker %d, not the pinned worker %d (answer %q); apply the configuration with a reload",
		e.Command, e.Got, e.Pinned, strings.TrimSpace(e.Answer))
}

func (e *WorkerChangedError) Unwrap() error { return ErrWorkerChanged }

// CommandError is a command that the pinned worker answered with an error,
// or with an answer the command does not give on success.
type CommandError struct {
	Command string
	PID     int
	Answer  string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("haproxy worker %d refused %q: %s", e.PID, e.Command, oneLine(e.Answer))
}

// Run sends c to the pinned worker and checks the answer: nil when HAProxy
// answered as it does on success, a *CommandError when it answered
// anything else, an error wrapping ErrWorkerChanged when c reached another
// worker, or the error of the connection. A command that is not sent
// (a word that is not safe) is an error too.
func (w *Worker) Run(ctx context.Context, c Command) error {
	text, err := c.text()
	if err != nil {
		return err
	}
	answer, err := w.ask(ctx, text)
	if err != nil {
		return err
	}
	if !c.ok(answer) {
		return &CommandError{Command: text, PID: w.pid, Answer: answer}
	}
	return nil
}

// ServersState returns `show servers state` of one backend, or of every
// backend when backend is empty.
func (w *Worker) ServersState(ctx context.Context, backend string) ([]ServerState, error) {
	c := Command{words: []string{"show", "servers", "state"}}
	if backend != "" {
		c.words = append(c.words, backend)
	}
	text, err := c.text()
	if err != nil {
		return nil, err
	}
	answer, err := w.ask(ctx, text)
	if err != nil {
		return nil, err
	}
	states, err := ParseServersState(answer)
	if err != nil {
		return nil, &CommandError{Command: text, PID: w.pid, Answer: answer}
	}
	return states, nil
}

// ServerSessions returns the current sessions of each server of backend
// (`show stat ID 4 -1`, column scur), by server name. The backend is
// addressed by its numeric ID, read from `show servers state BACKEND`:
// `show stat NAME` picks the first proxy of that name, which is the
// frontend when a frontend and a backend share it (as hakgen names them).
func (w *Worker) ServerSessions(ctx context.Context, backend string) (map[string]int, error) {
	states, err := w.ServersState(ctx, backend)
	if err != nil || len(states) == 0 {
		return map[string]int{}, err
	}
	c := Command{words: []string{"show", "stat", strconv.Itoa(states[0].BackendID), "4", "-1"}}
	text, err := c.text()
	if err != nil {
		return nil, err
	}
	answer, err := w.ask(ctx, text)
	if err != nil {
		return nil, err
	}
	sessions, err := ParseServerSessions(answer, backend)
	if err != nil {
		return nil, &CommandError{Command: text, PID: w.pid, Answer: answer}
	}
	return sessions, nil
}

// infoPID finds the worker's "Pid: N" line in `show info`.
var infoPID = regexp.MustCompile(`(?m)^Pid: (\d+)$`)

// ask sends `@1 show info; @1 cmd` and returns cmd's answer after checking
// that the pinned worker gave it. cmd is a checked single line.
func (w *Worker) ask(ctx context.Context, cmd string) (string, error) {
	out, err := w.master.Command(ctx, "@1 show info; @1 "+cmd)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(out, "Can't find the target PID") {
		return "", fmt.Errorf("master cli %s: %q: no current worker: %s", w.master.socket(), cmd, firstLine(out))
	}
	// show info ends with an empty line; cmd's answer follows, at least a
	// newline. Nothing after it means the connection ended before cmd was
	// answered (e.g. the master re-executed itself for a reload).
	info, answer, ok := strings.Cut(out, "\n\n")
	m := infoPID.FindStringSubmatch(info)
	if m == nil {
		return "", fmt.Errorf("master cli %s: %q: no worker PID in the answer to show info: %q", w.master.socket(), cmd, firstLine(out))
	}
	pid, _ := strconv.Atoi(m[1])
	if pid != w.pid {
		return "", &WorkerChangedError{Command: cmd, Pinned: w.pid, Got: pid, Answer: answer}
	}
	if !ok || answer == "" {
		return "", fmt.Errorf("master cli %s: %q: the connection ended before worker %d answered (reload in progress?)", w.master.socket(), cmd, w.pid)
	}
	return answer, nil
}

func oneLine(answer string) string {
	s := strings.Join(strings.Fields(answer), " ")
	if s == "" {
		return "(empty answer)"
	}
	return s
}

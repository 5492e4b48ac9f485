package lab

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Stream is a long-lived request through the Floating IP, as `kubectl
// logs -f` makes: GET /stream on the API port, which a control plane
// answers with a line every 100 ms until the client goes.
type Stream struct {
	Server string // the control plane that answers, by its certificate

	mu     sync.Mutex
	lines  []time.Time
	ended  time.Time
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

// OpenStream opens a stream and returns once its first line arrived. The
// lab closes it when torn down; it ends by itself after streamMax.
func (l *Lab) OpenStream(ctx context.Context) (*Stream, error) {
	sctx, cancel := context.WithTimeout(context.Background(), streamMax)
	s := &Stream{cancel: cancel, done: make(chan struct{})}
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, "https://"+l.floatingAddr(l.Plan.APIPort)+"/stream", nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := l.client().Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("stream: status %d", resp.StatusCode)
	}
	s.Server = resp.TLS.PeerCertificates[0].Subject.CommonName
	first := make(chan struct{})
	go s.read(resp, first)
	l.onClose(s.Close)
	select {
	case <-first:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("stream from %s ended before its first line: %v", s.Server, s.Err())
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
}

func (s *Stream) read(resp *http.Response, first chan struct{}) {
	defer close(s.done)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		s.mu.Lock()
		s.lines = append(s.lines, time.Now())
		n := len(s.lines)
		s.mu.Unlock()
		if n == 1 {
			close(first)
		}
	}
	s.mu.Lock()
	s.ended, s.err = time.Now(), sc.Err()
	s.mu.Unlock()
}

// Lines is the number of lines received so far.
func (s *Stream) Lines() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// Ended returns when the stream ended, if it has.
func (s *Stream) Ended() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended, !s.ended.IsZero()
}

// Err is why the stream ended (nil for a clean end).
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// MaxGap is the longest time in [from, to] without a line: between two
// lines, from `from` to the first line, and from the last line to `to`
// (a stream that ended counts as silent until `to`).
func (s *Stream) MaxGap(from, to time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, gap := from, time.Duration(0)
	for _, t := range s.lines {
		if t.Before(from) {
			continue
		}
		if t.After(to) {
			break
		}
		gap = max(gap, t.Sub(prev))
		prev = t
	}
	return max(gap, to.Sub(prev))
}

// Close ends the stream.
func (s *Stream) Close() {
	s.cancel()
	<-s.done
}

package systemd

import (
	"context"
	"fmt"
)

// jobKind is the kind of job Reload enqueues. There is deliberately no
// restart kind.
type jobKind string

const (
	jobReload jobKind = "reload"
	jobStart  jobKind = "start"
)

// jobMode is the mode of every job: replace a conflicting queued job.
const jobMode = "replace"

// runAndCheck runs job, waits for the unit to settle and checks it, then
// runs the Verifier. JobTimeout bounds the job and the settling; ctx
// bounds everything.
func (r *Reloader) runAndCheck(ctx context.Context, s *session, job jobKind) error {
	jctx, cancel := context.WithTimeout(ctx, r.opts.JobTimeout)
	defer cancel()
	if err := r.runJob(ctx, jctx, s, job); err != nil {
		return err
	}
	if err := r.settle(ctx, jctx, s, job); err != nil {
		return err
	}
	if r.opts.Verifier == nil {
		return nil
	}
	if err := r.opts.Verifier.Verify(ctx); err != nil {
		return fmt.Errorf("verifying %s of %s: %w", job, r.opts.Unit, err)
	}
	return nil
}

// runJob enqueues job and waits for its JobRemoved signal. The result
// channel is buffered: go-systemd's signal dispatcher must never block on
// it, even after runJob has given up waiting.
func (r *Reloader) runJob(ctx, jctx context.Context, s *session, job jobKind) error {
	results := make(chan string, 1)
	var err error
	switch job {
	case jobReload:
		_, err = s.conn.ReloadUnitContext(jctx, r.opts.Unit, jobMode, results)
	case jobStart:
		_, err = s.conn.StartUnitContext(jctx, r.opts.Unit, jobMode, results)
	default:
		return fmt.Errorf("unknown job kind %q", job)
	}
	if err != nil && isReply(err) {
		// systemd answered, and refused: no job exists.
		return fmt.Errorf("enqueuing %s job for %s: %w: %w", job, r.opts.Unit, ErrNotSent, err)
	}
	if err != nil {
		return fmt.Errorf("enqueuing %s job for %s: %w", job, r.opts.Unit, err)
	}
	select {
	case result := <-results:
		if result != "done" {
			return &JobError{Unit: r.opts.Unit, Job: string(job), Result: result}
		}
		return nil
	case <-s.lost:
		return fmt.Errorf("waiting for %s job for %s: %w", job, r.opts.Unit, ErrConnectionLost)
	case <-jctx.Done():
		return r.expired(ctx, fmt.Sprintf("waiting for %s job for %s", job, r.opts.Unit))
	}
}

// expired is the error for jctx running out while doing what: the caller's
// ctx error when ctx is done, ErrJobTimeout otherwise.
func (r *Reloader) expired(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w after %s", what, ErrJobTimeout, r.opts.JobTimeout)
}

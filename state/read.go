package state

import (
	"context"
	"fmt"
	"time"

	"github.com/hakgen/hakgen/internal/regular"
)

// DefaultReadTimeout bounds reading the state file and its secrets when
// the caller's context has no deadline. A local file reads in microseconds;
// one that takes seconds is on a mount that does not answer.
const DefaultReadTimeout = 10 * time.Second

// maxStuckReads is how many reads may be left blocked in the kernel (a
// hung NFS or FUSE mount cannot be interrupted) before further reads fail
// at once instead of leaving one more goroutine behind.
const maxStuckReads = 4

var readSlots = make(chan struct{}, maxStuckReads)

// readContext gives ctx DefaultReadTimeout when it has no deadline.
func readContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultReadTimeout)
}

// readBounded runs read (which reads the file at path) and waits for it
// until ctx ends. A read the kernel blocks cannot be cancelled: it is left
// to finish on its own, and at most maxStuckReads such reads are kept.
func readBounded[T any](ctx context.Context, path string, read func() (T, error)) (T, error) {
	var zero T
	select {
	case readSlots <- struct{}{}:
	default:
		return zero, fmt.Errorf("%s: %d earlier reads of the state or its secrets have not returned (is a mount hung?)", path, maxStuckReads)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := read()
		<-readSlots
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, fmt.Errorf("%s: no answer from the file system in time (is a mount hung?): %w", path, ctx.Err())
	}
}

// readLimited reads a regular file of at most limit bytes, never blocking
// on anything else (see regular.Read).
func readLimited(path string, limit int64) ([]byte, error) { return regular.Read(path, limit) }

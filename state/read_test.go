package state

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestReadBoundedByDeadline: a read the kernel blocks (a hung NFS or FUSE
// mount, here a read that waits on a channel) ends at the caller's
// deadline with an error naming the file; reads left blocked are bounded,
// and the next one fails at once while they are.
func TestReadBoundedByDeadline(t *testing.T) {
	hung := make(chan struct{})
	blocked := func() ([]byte, error) { <-hung; return nil, nil }
	for i := range maxStuckReads {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := readBounded(ctx, "/mnt/hung/state.yaml", blocked)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "/mnt/hung/state.yaml: no answer from the file system in time (is a mount hung?)") {
			t.Fatalf("read %d: err = %v; want the deadline, naming the file", i, err)
		}
	}
	_, err := readBounded(context.Background(), "/mnt/hung/state.yaml", blocked)
	if err == nil || !strings.Contains(err.Error(), "4 earlier reads of the state or its secrets have not returned") {
		t.Fatalf("a read while %d are stuck: err = %v; want a refusal at once", maxStuckReads, err)
	}
	close(hung) // the stuck reads return and free their slots
	for range 250 {
		if len(readSlots) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if data, err := readBounded(context.Background(), "x", func() ([]byte, error) { return []byte("ok"), nil }); err != nil || string(data) != "ok" {
		t.Fatalf("after the stuck reads returned: %q, %v", data, err)
	}
}

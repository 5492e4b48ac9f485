// Package regular reads files that must be regular files, without ever
// blocking on one that is not: a FIFO or a device where a configuration
// file is expected is refused at once, by its kind, and what is read is
// bounded.
package regular

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/hakgen/hakgen/internal/filekind"
)

// Read reads the regular file at path, of at most limit bytes. It opens
// with O_NONBLOCK (a FIFO without a writer would otherwise block the open)
// and checks the opened file's kind (fstat) before reading it; anything but
// a regular file is refused, naming what it is. Errors from opening keep
// their type (errors.Is(err, fs.ErrNotExist) works).
func Read(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file but %s", path, filekind.Of(info.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

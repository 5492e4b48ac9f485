package agenttest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
)

// Save writes data to path the way one kind of editor or tool does.
type Save func(path string, data []byte) error

// SavePatterns are the ways a state file gets replaced in practice, by name.
func SavePatterns() map[string]Save {
	return map[string]Save{
		"in-place":        WriteInPlace,
		"rename-over":     RenameOver,
		"delete-recreate": DeleteRecreate,
		"configmap":       ConfigMapSwap,
	}
}

// WriteInPlace truncates the file and writes it again, as `echo >`, nano or
// vim with backupcopy=yes do.
func WriteInPlace(path string, data []byte) error { return os.WriteFile(path, data, 0o644) }

// RenameOver writes a temporary file beside path and renames it over path,
// as vim (backupcopy=no), `sed -i` and most tools that save atomically do.
func RenameOver(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// DeleteRecreate removes the file, then creates it anew.
func DeleteRecreate(path string, data []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

var generation atomic.Int64

// ConfigMapSwap updates path the way the kubelet updates a ConfigMap
// volume: path is a symlink to ..data/NAME, ..data is a symlink to a
// timestamped directory holding the files, and an update writes a new
// directory, points ..data_tmp at it and renames ..data_tmp over ..data.
// The first call turns a plain file at path into that layout.
func ConfigMapSwap(path string, data []byte) error {
	dir, name := filepath.Split(path)
	gen := "..gen_" + strconv.FormatInt(generation.Add(1), 10)
	if err := os.Mkdir(filepath.Join(dir, gen), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, gen, name), data, 0o644); err != nil {
		return err
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(gen, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	if err := linkKey(path, name); err != nil {
		return err
	}
	if old != "" {
		return os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// linkKey makes path the symlink ..data/name unless it already is.
func linkKey(path, name string) error {
	want := filepath.Join("..data", name)
	if got, err := os.Readlink(path); err == nil && got == want {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replacing %s by a symlink: %w", path, err)
	}
	return os.Symlink(want, path)
}

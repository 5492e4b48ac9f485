package agent

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// configMapData is the symlink a Kubernetes ConfigMap (or Secret) volume
// swaps atomically on update: state.yaml -> ..data/state.yaml, and ..data
// is renamed over to point at a new timestamped directory.
const configMapData = "..data"

// watcher turns fsnotify events on the state file's directory into hints
// for the loop. It watches the directory, not the file: editors replace
// files by rename, which a watch on the file itself would lose.
type watcher struct {
	fs    *fsnotify.Watcher
	dir   string          // the state file's directory
	names map[string]bool // base names in the directory that matter
	log   *zap.Logger

	// The state file may be a symlink to a file elsewhere (a checkout of
	// a repository, say): that file's directory is watched too, and
	// followed when the link changes. Owned by run once it started.
	statePath         string
	linkDir, linkBase string // "" when the file is not a link out of dir

	// hints receives one trigger per relevant event (TriggerFile or
	// TriggerOverflow). It is buffered(1) and sent to without blocking:
	// events are only hints, and the loop re-reads the file anyway.
	hints chan string
	done  chan struct{}
}

// watch starts watching the directory of statePath. Close stops it.
func watch(statePath string, log *zap.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", statePath, err)
	}
	dir := filepath.Dir(statePath)
	if err := fw.Add(dir); err != nil {
		fw.Close()
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	w := &watcher{
		fs:        fw,
		dir:       dir,
		names:     map[string]bool{filepath.Base(statePath): true, configMapData: true},
		log:       log.Named("watch").With(zap.String("dir", dir)),
		statePath: statePath,
		hints:     make(chan string, 1),
		done:      make(chan struct{}),
	}
	w.follow()
	// The directory itself may be replaced (a new one renamed over it, as
	// some deployment tools do): its parent is watched for that, filtered
	// by the directory's name.
	if parent := filepath.Dir(dir); parent != dir {
		if err := fw.Add(parent); err != nil {
			w.log.Warn("cannot watch the state directory's parent; a replaced directory is noticed at the next resync", zap.String("parent", parent), zap.Error(err))
		}
	}
	go w.run()
	return w, nil
}

// rewatchDir watches the state directory again after it was replaced: the
// old watch follows the old directory, wherever it went.
func (w *watcher) rewatchDir() {
	_ = w.fs.Remove(w.dir) // gone with the old directory, or still on it
	if err := w.fs.Add(w.dir); err != nil {
		w.log.Warn("cannot watch the replaced state directory; the resync will catch changes", zap.Error(err))
	}
	w.follow()
}

// follow watches the directory the state file's symlink points into, when
// that is not the state file's own directory (elsewhere, or a subdirectory
// of it: a checkout, or a ConfigMap's timestamped directory behind its
// ..data link), and stops watching the one it pointed into before.
func (w *watcher) follow() {
	resolved, err := filepath.EvalSymlinks(w.statePath)
	linkDir, linkBase := "", ""
	if err == nil {
		if d := filepath.Dir(resolved); d != w.dir {
			linkDir, linkBase = d, filepath.Base(resolved)
		}
	}
	if linkDir == w.linkDir {
		w.linkBase = linkBase
		return
	}
	if w.linkDir != "" {
		_ = w.fs.Remove(w.linkDir) // may be gone already
	}
	if linkDir != "" {
		if err := w.fs.Add(linkDir); err != nil {
			w.log.Warn("cannot watch the directory the state file links into; the resync will catch changes", zap.String("link_dir", linkDir), zap.Error(err))
			linkDir, linkBase = "", ""
		}
	}
	w.linkDir, w.linkBase = linkDir, linkBase
}

// run forwards relevant events until the fsnotify watcher is closed.
func (w *watcher) run() {
	defer close(w.done)
	for {
		select {
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if w.replacesDir(ev) {
				w.log.Debug("state directory replaced", zap.Stringer("op", ev.Op))
				w.rewatchDir()
				w.hint(TriggerFile)
				continue
			}
			if w.relevant(ev) {
				w.log.Debug("event", zap.String("file", ev.Name), zap.Stringer("op", ev.Op))
				w.follow()
				w.hint(TriggerFile)
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("file events were lost; reconciling in full", zap.Error(err))
				w.hint(TriggerOverflow)
				continue
			}
			w.log.Warn("watching the state file", zap.Error(err))
		}
	}
}

// relevant keeps events on the state file or the ConfigMap symlink that
// may change content; a change of mode alone cannot.
func (w *watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	dir, base := filepath.Split(ev.Name)
	dir = filepath.Clean(dir)
	if w.linkDir != "" && dir == w.linkDir {
		return base == w.linkBase
	}
	return dir == w.dir && w.names[base]
}

// replacesDir reports an event that puts a (new) directory at the state
// directory's path.
func (w *watcher) replacesDir(ev fsnotify.Event) bool {
	return filepath.Clean(ev.Name) == w.dir && ev.Op.Has(fsnotify.Create)
}

// hint sends trigger unless a hint is already waiting. Every reconcile is
// a full one, so a dropped hint loses nothing but its label.
func (w *watcher) hint(trigger string) {
	select {
	case w.hints <- trigger:
	default:
	}
}

// Close stops watching and waits for run to return.
func (w *watcher) Close() error {
	err := w.fs.Close()
	<-w.done
	return err
}

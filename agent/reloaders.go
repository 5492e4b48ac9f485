package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/serverplan"
	"github.com/hakgen/hakgen/systemd"
)

// NoReload is the Reloader of `--reload none`: the file is rendered,
// checked and installed, and the service is left alone (something else
// reloads it, or it reads the file at its next start).
type NoReload struct{}

// Reload does nothing and succeeds.
func (NoReload) Reload(context.Context) error { return nil }

var (
	_ Reloader = NoReload{}
	_ Reloader = (*haproxy.MasterReloader)(nil)
	_ Reloader = (*systemd.Reloader)(nil)
	_ Reloader = (*SystemdReloader)(nil)
)

// SystemdReloader reloads haproxy.service through systemd (D-Bus) and,
// when HAProxy's master socket exists, confirms the outcome through its
// `show proc`: HAProxy 2.6 tells systemd READY even after a reload that
// failed, so the unit's state alone cannot show the failure.
type SystemdReloader struct {
	unit   *systemd.Reloader
	master *haproxy.Master
	await  *haproxy.MasterReloader
	log    *zap.Logger

	mu     sync.Mutex
	before *haproxy.Procs // show proc before the running Reload; nil: do not verify
}

// NewSystemdReloader connects to systemd (ctx bounds only that) and returns
// a reloader for opts.Unit whose Verifier is the master socket at socket.
// opts.Verifier must be nil: it is set here. Close releases the bus
// connection.
func NewSystemdReloader(ctx context.Context, opts systemd.Options, socket string, log *zap.Logger) (*SystemdReloader, error) {
	if opts.Verifier != nil {
		return nil, errors.New("systemd reloader: the verifier is set by NewSystemdReloader")
	}
	m := haproxy.NewMaster(socket)
	r := &SystemdReloader{master: m, await: haproxy.NewMasterReloader(m, log), log: log.Named("systemd-reload")}
	opts.Verifier = systemd.VerifierFunc(r.verify)
	unit, err := systemd.NewReloader(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	r.unit = unit
	return r, nil
}

// Reload reads `show proc` (when the master socket exists), has systemd
// reload the unit, and then waits until show proc shows a new worker or a
// failed reload. When the master socket exists but `show proc` fails with
// anything but haproxy.ErrMasterUnavailable (a reset connection, a
// timeout), nothing is sent to systemd and the error wraps ErrNotTried: a
// reload that could not be verified is better tried again than judged by
// systemd alone.
func (r *SystemdReloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	r.before = nil
	if _, err := os.Stat(r.master.Socket); err == nil {
		procs, err := r.master.ShowProc(ctx)
		switch {
		case err == nil:
			r.before = &procs
		case errors.Is(err, haproxy.ErrMasterUnavailable):
			// A socket left by a stopped HAProxy: systemd starts it (or
			// reports it not running).
			r.log.Warn("cannot read show proc: the reload is judged by systemd alone", zap.Error(err))
		default:
			r.mu.Unlock()
			return fmt.Errorf("reading show proc before reloading: %w: %w", ErrNotTried, err)
		}
	} else {
		// HAProxy 2.6 reports READY to systemd even after a failed reload:
		// without the master socket a failed reload looks like success.
		r.log.Warn("no master socket: the reload is judged by systemd alone, which cannot see a failed HAProxy reload",
			zap.String("socket", r.master.Socket))
	}
	r.mu.Unlock()
	return r.unit.Reload(ctx)
}

// verify is the unit reloader's Verifier.
func (r *SystemdReloader) verify(ctx context.Context) error {
	r.mu.Lock()
	before := r.before
	r.mu.Unlock()
	if before == nil {
		return nil
	}
	if err := r.await.Await(ctx, *before); err != nil {
		return fmt.Errorf("checking the reload on the master socket: %w", err)
	}
	return nil
}

// Close releases the bus connection.
func (r *SystemdReloader) Close() { r.unit.Close() }

// ServerStateReloader saves HAProxy's servers' state (health, addresses,
// drains) right before each reload, into the file haproxy.cfg loads it
// from (server-state-file), so that the new worker starts with what the
// old one learnt: a server that was DOWN stays out instead of taking
// connections until its first check fails, and a server drained with
// `hakgen-agent drain` stays drained. The state is rewritten for Config,
// the haproxy.cfg the reload loads (see serverplan.CarryServerState): a
// server the new file moves or re-weights starts from the file, not from
// what the old worker ran.
type ServerStateReloader struct {
	Reloader
	Master *haproxy.Master
	Path   string // the server-state file
	Config string // the haproxy.cfg the reload loads
	Log    *zap.Logger
}

// Reload saves the state, then reloads. A state that cannot be saved (no
// HAProxy running, say) does not stop the reload: the new worker then
// starts from the last saved state.
func (r ServerStateReloader) Reload(ctx context.Context) error {
	notes, err := serverplan.SaveServerState(ctx, r.Master, r.Path, r.Config)
	switch {
	case err != nil && !errors.Is(err, haproxy.ErrMasterUnavailable):
		r.Log.Warn("cannot save the servers' state before the reload; the new worker starts from the last saved one", zap.Error(err))
	case len(notes) > 0:
		r.Log.Info("servers the new configuration changes start from it, not from their saved state", zap.Strings("servers", notes))
	}
	return r.Reloader.Reload(ctx)
}

package systemd

import (
	"context"
	"fmt"
	"strings"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"go.uber.org/zap"
)

// Property names read by Reloader.
const (
	propActiveState = "ActiveState" // org.freedesktop.systemd1.Unit
	propStatusText  = "StatusText"  // org.freedesktop.systemd1.Service
)

// settle reads the unit until it is no longer reloading, then judges the
// outcome of job. HAProxy may only start its reload (RELOADING=1) after
// systemd finished the job, so a reloading state or a pending StatusText
// is waited out, PollInterval apart, until jctx ends.
func (r *Reloader) settle(ctx, jctx context.Context, s *session, job jobKind) error {
	for {
		state, status, err := r.unitStatus(jctx, s)
		if err != nil {
			if jctx.Err() != nil {
				return r.expired(ctx, fmt.Sprintf("reading %s after its %s job", r.opts.Unit, job))
			}
			return err
		}
		if !r.pending(state, status) {
			return r.judge(job, state, status)
		}
		r.log.Debug("unit still reloading", zap.String("active_state", state), zap.String("status", status))
		if !sleep(jctx, r.opts.PollInterval) {
			return r.expired(ctx, fmt.Sprintf("waiting for %s to finish reloading", r.opts.Unit))
		}
	}
}

// pending reports whether the unit is still loading its configuration.
func (r *Reloader) pending(state, status string) bool {
	return state == "reloading" || containsAny(status, r.opts.PendingStatus)
}

// judge fails when the unit is not active after job or its StatusText
// reports a failed reload.
func (r *Reloader) judge(job jobKind, state, status string) error {
	if state != "active" {
		return fmt.Errorf("unit %s is %s after its %s job: %w", r.opts.Unit, state, job, ErrReloadFailed)
	}
	if containsAny(status, r.opts.FailedStatus) {
		return fmt.Errorf("unit %s reports %q after its %s job: %w", r.opts.Unit, status, job, ErrReloadFailed)
	}
	return nil
}

// unitStatus reads the unit's ActiveState and the service's StatusText.
func (r *Reloader) unitStatus(ctx context.Context, s *session) (state, status string, err error) {
	if state, err = r.activeState(ctx, s); err != nil {
		return "", "", err
	}
	cctx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
	defer cancel()
	p, err := s.conn.GetServicePropertyContext(cctx, r.opts.Unit, propStatusText)
	if err != nil {
		return "", "", fmt.Errorf("reading %s of %s: %w", propStatusText, r.opts.Unit, err)
	}
	status, err = stringValue(p)
	return state, status, err
}

// activeState reads the unit's ActiveState.
func (r *Reloader) activeState(ctx context.Context, s *session) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
	defer cancel()
	p, err := s.conn.GetUnitPropertyContext(cctx, r.opts.Unit, propActiveState)
	if err != nil {
		return "", fmt.Errorf("reading %s of %s: %w", propActiveState, r.opts.Unit, err)
	}
	return stringValue(p)
}

// stringValue returns a string property's value.
func stringValue(p *sddbus.Property) (string, error) {
	v, ok := p.Value.Value().(string)
	if !ok {
		return "", fmt.Errorf("property %s is %s, not a string", p.Name, p.Value.Signature())
	}
	return v, nil
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

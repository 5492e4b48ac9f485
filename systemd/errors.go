package systemd

import (
	"errors"
	"fmt"
)

// Errors wrapped by Reload, for errors.Is.
var (
	// ErrNotRunning: the unit is inactive or failed and Options.NoStart
	// forbids starting it.
	ErrNotRunning = errors.New("not running and starting is disabled")
	// ErrBusy: the unit is activating, deactivating or in another
	// transitional state; nothing was done and a later Reload may succeed.
	ErrBusy = errors.New("in a transitional state")
	// ErrJobTimeout: the job did not finish, or the unit did not settle,
	// within Options.JobTimeout. The job may still complete later.
	ErrJobTimeout = errors.New("job timed out")
	// ErrConnectionLost: the bus connection closed while a job was
	// pending; its outcome is unknown. The next Reload dials again.
	ErrConnectionLost = errors.New("bus connection lost")
	// ErrNotSent: Reload failed before systemd had a job for the unit
	// (the bus could not be reached, the unit's state could not be read,
	// or systemd refused the job): the service never tried its file.
	ErrNotSent = errors.New("no reload was sent to systemd")
	// ErrReloadFailed: the job finished but the service reports that it
	// did not load the new configuration (StatusText) or is not running.
	ErrReloadFailed = errors.New("service did not load its configuration")
)

// JobError is a job that systemd finished with a result other than "done":
// canceled, timeout, failed, dependency, skipped or invalid.
type JobError struct {
	Unit   string // e.g. "haproxy.service"
	Job    string // "reload" or "start"
	Result string // the result of the JobRemoved signal
}

func (e *JobError) Error() string {
	return fmt.Sprintf("%s job for %s finished with result %q", e.Job, e.Unit, e.Result)
}

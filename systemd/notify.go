package systemd

import (
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
)

// Notifier tells systemd about the agent's own state through sd_notify
// (NOTIFY_SOCKET). Every method is a no-op when NOTIFY_SOCKET is unset,
// e.g. outside systemd or for a unit that is not Type=notify.
//
// Sending never blocks and never fails the caller: a failure is logged
// once when sending starts failing (and once when it works again), not on
// every call. A Notifier is safe for concurrent use.
type Notifier struct {
	log      *zap.Logger
	interval time.Duration

	mu      sync.Mutex
	lastErr string // "" while sending works
}

// NewNotifier reads the watchdog settings (WATCHDOG_USEC, WATCHDOG_PID)
// once. The environment is left as it is. A nil logger logs nothing.
func NewNotifier(logger *zap.Logger) *Notifier {
	if logger == nil {
		logger = zap.NewNop()
	}
	n := &Notifier{log: logger.Named("sdnotify")}
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("ignoring invalid watchdog settings", zap.Error(err))
	}
	if d > 0 {
		n.interval = d / 2
	}
	return n
}

// Ready tells systemd that startup finished (READY=1).
func (n *Notifier) Ready() { n.send(daemon.SdNotifyReady) }

// Stopping tells systemd that shutdown began (STOPPING=1).
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping) }

// Status sets the free-form status line `systemctl status` shows. Line
// breaks are replaced by spaces, so that text cannot add assignments.
func (n *Notifier) Status(text string) {
	text = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(text)
	n.send("STATUS=" + text)
}

// WatchdogInterval is how often Ping must be called: half of WATCHDOG_USEC,
// or 0 when the unit has no watchdog (or it is meant for another process).
func (n *Notifier) WatchdogInterval() time.Duration { return n.interval }

// Ping keeps the watchdog from firing (WATCHDOG=1). Call it from the loop
// whose liveness it should prove, every WatchdogInterval; it is a no-op
// when WatchdogInterval is 0.
func (n *Notifier) Ping() {
	if n.interval > 0 {
		n.send(daemon.SdNotifyWatchdog)
	}
}

// send sends one notification and logs changes between working and failing.
func (n *Notifier) send(state string) {
	_, err := daemon.SdNotify(false, state)
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case err != nil && err.Error() != n.lastErr:
		n.log.Warn("sd_notify failing", zap.Error(err))
		n.lastErr = err.Error()
	case err == nil && n.lastErr != "":
		n.log.Info("sd_notify works again")
		n.lastErr = ""
	}
}

package agent

import "github.com/hakgen/hakgen/state"

// Source completes the state read from the file with what the file does
// not list: the servers discovered by their Hetzner Cloud labels
// (discovery.Poller implements it). The reconcile renders from what
// Complete returns, so discovered servers are applied as servers of the
// file are, through HAProxy's Runtime API where the target can.
type Source interface {
	// Complete returns the state to apply for s, the valid state as read
	// from the file. It must not wait for the network. An error means no
	// state can be applied yet: every target stays as it is and the
	// reconcile is retried (OutcomeError).
	Complete(s *state.State) (*state.State, error)
	// Changed delivers a value whenever Complete would return something
	// new; the loop then reconciles at once (TriggerSource).
	Changed() <-chan struct{}
}

// TriggerSource is the trigger of a reconcile that Config.Source's
// Changed asked for.
const TriggerSource = "discovery"

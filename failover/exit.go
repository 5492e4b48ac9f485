package failover

import (
	"context"
	"errors"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/hakgen/hakgen/hetzner"
)

// Exit codes of a notify run, for ExitCode. keepalived ignores them; they
// are for people and scripts running notify by hand.
const (
	ExitOK          = 0 // recorded; on MASTER the Floating IP points here, verified
	ExitFailed      = 1 // any other failure
	ExitUsage       = 2 // the arguments are not a notify form
	ExitSuperseded  = 3 // a newer keepalived state made this MASTER run give up
	ExitDeadline    = 4 // the deadline passed before the Floating IP was confirmed here
	ExitNotAssigned = 5 // the API reported success, but the Floating IP points elsewhere
	ExitActionError = 6 // the API's assign action ended in error
	ExitAuth        = 7 // the token was refused (unauthorized or forbidden)
	// ExitMoves plus a mask: a run of several addresses in which some
	// did not move here; bit i (value 2^i) is set for each address i
	// that failed, counted from 0 in the run's order. At most
	// state.MaxInstanceAddresses addresses keep it below 128.
	ExitMoves = 64
)

// ExitCode maps Notify's error to the exit code that tells the result:
// for a run of several addresses that did not all move, ExitMoves plus
// the mask of those that failed.
func ExitCode(err error) int {
	var actionErr hcloud.ActionError
	var moves *MovesError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &moves):
		return ExitMoves + moves.Mask()
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrSuperseded):
		return ExitSuperseded
	case errors.Is(err, hetzner.ErrNotAssigned):
		return ExitNotAssigned
	case errors.As(err, &actionErr):
		return ExitActionError
	case hcloud.IsError(err, hcloud.ErrorCodeUnauthorized, hcloud.ErrorCodeForbidden):
		return ExitAuth
	case errors.Is(err, context.DeadlineExceeded):
		return ExitDeadline
	}
	return ExitFailed
}

package lab

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// startHakgen sets both load balancers up the quick start's way: the same
// state.yaml and the token file on both, HAProxy running with Debian's
// own haproxy.cfg (as the package leaves it), then the agent, which
// writes haproxy.cfg and keepalived.conf; then keepalived on lb1 and,
// once lb1 is MASTER, on lb2.
func (l *Lab) startHakgen(ctx context.Context) error {
	hash, err := StateHash(l.State)
	if err != nil {
		return fmt.Errorf("the lab's state: %w", err)
	}
	for _, lb := range l.LBs {
		if err := lb.WriteFile(TokenPath, []byte(l.token+"\n"), 0o600); err != nil {
			return err
		}
		if err := lb.WriteState(l.State); err != nil {
			return err
		}
		if err := lb.StartHAProxy(ctx); err != nil {
			return err
		}
		if err := lb.StartAgent(l.Opts.AgentArgs...); err != nil {
			return err
		}
	}
	for _, lb := range l.LBs {
		if _, err := lb.WaitApplied(ctx, hash); err != nil {
			return err
		}
	}
	return l.startKeepalivedPair(ctx)
}

// startKeepalivedPair starts keepalived on lb1, waits until it is MASTER
// and has moved the Floating IP to itself, then starts lb2's.
func (l *Lab) startKeepalivedPair(ctx context.Context) error {
	lb1 := l.LBs[0]
	start := time.Now()
	if err := lb1.StartKeepalived(ctx); err != nil {
		return err
	}
	if _, err := lb1.WaitVRRP(ctx, start, "MASTER"); err != nil {
		return err
	}
	if err := l.waitMove(ctx, start, lb1); err != nil {
		return err
	}
	for _, lb := range l.LBs[1:] {
		if err := lb.StartKeepalived(ctx); err != nil {
			return err
		}
	}
	return nil
}

// waitMove waits for a re-routing of the Floating IP to lb from since on.
func (l *Lab) waitMove(ctx context.Context, since time.Time, lb *LB) error {
	for {
		for _, m := range l.Moves() {
			if !m.Time.Before(since) && m.Node == lb.Name && m.Err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never assigned the Floating IP to itself: %w", lb.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// doctorPasses matches doctor's line for the check of step 8 of the quick
// start: the BACKUP hears the MASTER's adverts.
var doctorPasses = regexp.MustCompile(`(?m)^PASS\s+VRRP adverts`)

// Doctor runs `hakgen-agent doctor` on lb, against the fake API, and
// returns its exit code and output.
func (lb *LB) Doctor(ctx context.Context) (int, string) {
	return exitCode(lb.RunWith(ctx, lb.lab.APIEnv(), "", AgentBin, "doctor"))
}

// checkDoctor is step 8 of the quick start: doctor on the BACKUP must
// hear the MASTER's adverts and find nothing that fails. Warnings pass:
// the lab's machines share the host's clock, whose synchronization
// doctor checks too.
func (l *Lab) checkDoctor(ctx context.Context) error {
	lb2 := l.LBs[1]
	code, out := lb2.Doctor(ctx)
	if (code != 0 && code != doctorWarned) || !doctorPasses.MatchString(out) {
		return fmt.Errorf("%s: hakgen-agent doctor exited %d:\n%s", lb2.Name, code, out)
	}
	return nil
}

// doctorWarned is doctor's exit code when some checks only warned.
const doctorWarned = 5

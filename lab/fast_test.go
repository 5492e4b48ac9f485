package lab_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hakgen/hakgen/lab"
)

// The fast profile (README, "The VRRP floor and the fast profile").
const (
	// fastAdvert is the fast profile's keepalived.advertInterval.
	fastAdvert = 300 * time.Millisecond
	// fastOutage bounds the outage of the MASTER's links going down at
	// the fast profile (the 2.5 s).
	fastOutage = 2500 * time.Millisecond
	// fastIdle is how long fast-profile-idle watches the idle pair (the
	// issue's 10 minutes); CI watches fastIdleCI.
	fastIdle   = 10 * time.Minute
	fastIdleCI = time.Minute
)

// fastOpts is the lab of the fast profile: the quick start's state with
// keepalived.advertInterval: 300ms.
var fastOpts = lab.Options{AdvertInterval: fastAdvert}

// fastProfile: node-loss at the fast profile. lb2 hears no advert for
// about three intervals (0.9 s), becomes MASTER and moves the Floating IP;
// the outage is at most fastOutage.
func fastProfile(t *testing.T, l *lab.Lab) lab.Run {
	lb1, lb2 := l.LBs[0], l.LBs[1]
	f := failover(t, l, failoverWindow, lb1.Name+"'s links down at advertInterval "+fastAdvert.String(), func(ctx context.Context) error { return l.SetLinks(ctx, lb1, false) })
	expectMovedTo(t, l, f, lb2)
	if f.Outage.Recovered && f.Outage.Gap > fastOutage {
		t.Errorf("outage %s, want at most %s", f.Outage.Gap.Round(time.Millisecond), fastOutage)
	}
	return f.Result()
}

// fastProfileIdle: the pair at the fast profile, idle and without a fault,
// for fastIdle (CI: fastIdleCI): no node changes its VRRP state, nothing
// is assigned or re-routed. The figure is the number of MASTER
// transitions.
func fastProfileIdle(t *testing.T, l *lab.Lab) lab.Run {
	idle := fastIdle
	if !*long {
		idle = fastIdleCI
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), idle+time.Minute)
	defer cancel()
	waitUntil(ctx, start.Add(idle))
	end := time.Now()
	masters := 0
	for _, lb := range l.LBs {
		for _, e := range lb.VRRPStates(start) {
			if e.Text == "MASTER" {
				masters++
			}
		}
	}
	noFailover(t, l, start, end)
	if ctx.Err() != nil {
		t.Fatalf("the idle watch ended early: %v", ctx.Err())
	}
	t.Logf("%s idle at advertInterval %s: %d MASTER transitions", end.Sub(start).Round(time.Second), fastAdvert, masters)
	return lab.Run{Window: end.Sub(start).Seconds(), Figure: &lab.Figure{Name: fmt.Sprintf("MASTER transitions in %g min idle", idle.Minutes()), Value: float64(masters)}}
}

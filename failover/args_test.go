package failover_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/failover"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args string
		want failover.Event
	}{
		{"MASTER", failover.Event{State: failover.Master, Priority: -1}},
		{"backup", failover.Event{State: failover.Backup, Priority: -1}},
		{"FAULT", failover.Event{State: failover.Fault, Priority: -1}},
		{"STOP", failover.Event{State: failover.Stop, Priority: -1}},
		{"INSTANCE VI_1 MASTER 150", failover.Event{State: failover.Master, Kind: "INSTANCE", Name: "VI_1", Priority: 150}},
		{"GROUP lbs BACKUP 0", failover.Event{State: failover.Backup, Kind: "GROUP", Name: "lbs", Priority: 0}},
		{"INSTANCE VI_1 DELETED 100", failover.Event{State: failover.Deleted, Kind: "INSTANCE", Name: "VI_1", Priority: 100}},
		{"INSTANCE VI_1 FAULT", failover.Event{State: failover.Fault, Kind: "INSTANCE", Name: "VI_1", Priority: -1}},
	} {
		got, err := failover.ParseArgs(strings.Fields(tc.args))
		if err != nil || got != tc.want {
			t.Errorf("ParseArgs(%s) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
		if err == nil && !strings.EqualFold(got.String(), tc.args) {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tc.args)
		}
	}
}

func TestParseArgsRefuses(t *testing.T) {
	for _, args := range [][]string{
		nil, {"PRIMARY"}, {"MASTER", "now"}, {"VRRP", "VI_1", "MASTER", "100"},
		{"INSTANCE", "VI_1", "MASTERS", "100"}, {"INSTANCE", "VI_1", "MASTER", "256"},
		{"INSTANCE", "VI_1", "MASTER", "high"}, {"INSTANCE", "", "MASTER", "100"},
		{"INSTANCE", "VI_1", "MASTER", "100", "extra"},
	} {
		if ev, err := failover.ParseArgs(args); !errors.Is(err, failover.ErrUsage) {
			t.Errorf("ParseArgs(%q) = %+v, %v; want ErrUsage", args, ev, err)
		}
	}
}

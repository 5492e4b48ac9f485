package systemd

import (
	"context"
	"fmt"
)

// FileLimit returns the hard file-descriptor limit (LimitNOFILE=) systemd
// gives the service unit, through dial (SystemBus when nil). ctx bounds
// the whole call.
func FileLimit(ctx context.Context, dial DialFunc, unit string) (uint64, error) {
	if dial == nil {
		dial = SystemBus
	}
	s, err := connect(ctx, dial)
	if err != nil {
		return 0, fmt.Errorf("connecting to systemd: %w", err)
	}
	defer s.close()
	prop, err := s.conn.GetUnitTypePropertyContext(ctx, unit, "Service", "LimitNOFILE")
	if err != nil {
		return 0, fmt.Errorf("reading LimitNOFILE of %s: %w", unit, err)
	}
	limit, ok := prop.Value.Value().(uint64)
	if !ok {
		return 0, fmt.Errorf("reading LimitNOFILE of %s: unexpected value %s", unit, prop.Value)
	}
	return limit, nil
}

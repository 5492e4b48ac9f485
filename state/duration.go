package state

import (
	"encoding"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

var durationUnits = []struct {
	suffix string
	unit   time.Duration
}{
	// Longest suffixes first so "ms" is not read as "m".
	{"ms", time.Millisecond}, {"us", time.Microsecond},
	{"d", day}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second},
}

// ParseDuration reads a duration in HAProxy's notation: a whole number and
// one unit (us, ms, s, m, h, d), e.g. "5s" or "15m". A bare number is refused:
// HAProxy would read it as milliseconds, which surprises people.
func ParseDuration(text string) (Duration, error) {
	for _, u := range durationUnits {
		num, ok := strings.CutSuffix(text, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil || num == "" {
			break
		}
		d := time.Duration(n) * u.unit
		if d/u.unit != time.Duration(n) {
			break
		}
		return Duration(d), nil
	}
	return 0, fmt.Errorf("%q is not a duration", text)
}

// String formats d in the largest HAProxy unit that represents it exactly,
// so it can be written into haproxy.cfg as is.
func (d Duration) String() string {
	td := time.Duration(d)
	if td == 0 {
		return "0s"
	}
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", day}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if td%u.unit == 0 {
			return strconv.FormatInt(int64(td/u.unit), 10) + u.suffix
		}
	}
	return strconv.FormatInt(td.Microseconds(), 10) + "us"
}

// MarshalText writes d in the notation ParseDuration reads.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

var _ encoding.TextMarshaler = Duration(0)

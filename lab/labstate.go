package lab

import (
	"bytes"
	"fmt"
	"regexp"
	"time"

	"github.com/hakgen/hakgen/state"
)

// LabMaxConn is the lab's haproxy.maxconn. HAProxy needs about two file
// descriptors per connection, and the hard limit on this machine is 20000,
// so the default 50000 cannot start here (a real VM allows far more).
const LabMaxConn = 2000

// LabState is the load balancers' state.yaml in the lab: the quick start's,
// with only what cannot exist in the lab changed (the README's "Watch it
// fail over" lists each difference): haproxy.maxconn.
func LabState(quickStart []byte) []byte {
	out := bytes.Clone(quickStart)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return fmt.Appendf(out, "haproxy: {maxconn: %d}   # the lab: the file descriptor limit is 20000\n", LabMaxConn)
}

// Edit returns data with the one occurrence of old replaced by new, as an
// operator's edit of one line; it is an error when old is not there
// exactly once.
func Edit(data []byte, old, new string) ([]byte, error) {
	if n := bytes.Count(data, []byte(old)); n != 1 {
		return nil, fmt.Errorf("state.yaml has %q %d times, want once", old, n)
	}
	return bytes.Replace(data, []byte(old), []byte(new), 1), nil
}

// keepalivedLine is the keepalived section of a state written on one line
// in flow style, as the quick start has it.
var keepalivedLine = regexp.MustCompile(`(?m)^keepalived: \{([^}\n]*)\}`)

// WithAdvertInterval returns data with keepalived.advertInterval set to d,
// added to the one-line keepalived section (the quick start's).
func WithAdvertInterval(data []byte, d time.Duration) ([]byte, error) {
	if n := len(keepalivedLine.FindAll(data, -1)); n != 1 {
		return nil, fmt.Errorf("state.yaml has %d one-line keepalived sections, want one", n)
	}
	if bytes.Contains(data, []byte("advertInterval")) {
		return nil, fmt.Errorf("state.yaml sets keepalived.advertInterval already")
	}
	return keepalivedLine.ReplaceAll(data, fmt.Appendf(nil, "keepalived: {${1}, advertInterval: %s}", state.Duration(d))), nil
}

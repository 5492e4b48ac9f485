package hetznertest

import (
	"strconv"
	"strings"
)

// resourceFaults queues faults for the requests to one endpoint that name
// one resource (a Floating IP, a network) in their path.
type resourceFaults map[resourceKey][]Fault

type resourceKey struct {
	ep Endpoint
	id int64
}

// InjectOn queues n copies of fault for the next n requests to ep whose
// path names the resource id (POST /v1/floating_ips/4712/actions/assign
// names 4712): one of several Floating IPs moved at once can then fail
// while the others do not. Faults queued with Inject for ep come first.
func (f *Fake) InjectOn(ep Endpoint, id int64, n int, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.onResource == nil {
		f.onResource = resourceFaults{}
	}
	k := resourceKey{ep, id}
	for range n {
		f.onResource[k] = append(f.onResource[k], fault)
	}
}

// takeResourceFault pops the next fault queued with InjectOn for a request
// to ep with this path; the zero Fault when none is.
func (f *Fake) takeResourceFault(ep Endpoint, path string) Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, part := range strings.Split(path, "/") {
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			continue
		}
		k := resourceKey{ep, id}
		if q := f.onResource[k]; len(q) > 0 {
			f.onResource[k] = q[1:]
			return q[0]
		}
	}
	return Fault{}
}

// set reports whether the fault changes anything.
func (f Fault) set() bool {
	return f.Do != nil || f.Delay != 0 || f.Status != 0 || f.Header != nil || f.Exhausted || f.Drop
}

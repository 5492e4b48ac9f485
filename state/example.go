package state

import _ "embed"

// Example is a complete, valid state: three control planes, three workers
// and a failover pair. `hakgen-agent render` renders it when given no state.
//
//go:embed example.yaml
var Example []byte

// ExampleName names Example in messages.
const ExampleName = "example state.yaml"

// FromServers builds a state from control planes and workers alone, with
// every other field at its default, as for a quick one-off render without a
// file. Problems are reported against name.
func FromServers(name string, controlPlanes, workers []Server) (*State, Problems, error) {
	s := Defaults()
	s.file, s.pos = name, map[string]Pos{}
	s.ControlPlanes, s.Workers = controlPlanes, workers
	return s.finish(nil)
}

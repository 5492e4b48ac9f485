package discovery

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/internal/atomicfile"
)

// StatusName is the status file's name, beside the agent's status file
// (/run/hakgen/discovery.json).
const StatusName = "discovery.json"

// Status is what the poller reports after every poll, in the status file.
// Its JSON form is stable: fields are only ever added.
type Status struct {
	PID       int       `json:"pid"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Network, NetworkID, Interval and Selectors are what is polled.
	Network   string            `json:"network"`
	NetworkID int64             `json:"networkID,omitempty"`
	Interval  float64           `json:"intervalSeconds"`
	Selectors map[string]string `json:"selectors"`
	// Source says where Servers came from: "api" (a poll), "persisted"
	// (the file kept from before, no successful poll yet) or "none".
	Source string `json:"source"`
	// Servers is the discovered set in force.
	Servers Set `json:"servers"`
	// LastSuccess is when the last poll succeeded; zero before one did.
	LastSuccess time.Time `json:"lastSuccessAt,omitzero"`
	// LastPoll is the last poll, successful or not.
	LastPoll *Poll `json:"lastPoll,omitempty"`
	// Held are results held back by the safety rule; Skipped the servers
	// a selector matched that are not used.
	Held    []Held    `json:"held,omitempty"`
	Skipped []Skipped `json:"skipped,omitempty"`
	// Polls and Failures count polls since the agent started; Requests
	// their API requests.
	Polls    int `json:"polls"`
	Failures int `json:"failures"`
	Requests int `json:"requests"`
	// RequestsPerPoll is what a poll costs: the requests of the last
	// successful poll's server lists (the network's lookup, made once, is
	// not counted). RequestsPerHour is that, 3600/interval times: what
	// polling costs this load balancer.
	RequestsPerPoll int `json:"requestsPerPoll"`
	RequestsPerHour int `json:"requestsPerHour"`
	// RateLimit is the project's budget as the last answer reported it.
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
}

// Poll is one poll.
type Poll struct {
	At          time.Time `json:"at"`
	TookSeconds float64   `json:"tookSeconds"`
	Requests    int       `json:"requests"`
	Error       string    `json:"error,omitempty"`
}

// RateLimit is hetzner.RateLimit in the status file.
type RateLimit struct {
	Limit     int       `json:"limit"`
	Remaining int       `json:"remaining"`
	Reset     time.Time `json:"reset"`
}

func rateLimitOf(rl hetzner.RateLimit) *RateLimit {
	if !rl.Known() {
		return nil
	}
	return &RateLimit{Limit: rl.Limit, Remaining: rl.Remaining, Reset: rl.Reset}
}

// StatusPath is the discovery status file beside the agent's status file
// agentStatus.
func StatusPath(agentStatus string) string {
	return filepath.Join(filepath.Dir(agentStatus), StatusName)
}

// ReadStatus reads a status file.
func ReadStatus(path string) (*Status, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the discovery status: %w", err)
	}
	var st Status
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("reading the discovery status %s: %w", path, err)
	}
	return &st, nil
}

func writeStatus(path string, st Status) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("writing the discovery status: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing the discovery status: %w", err)
	}
	if _, err := atomicfile.Write(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the discovery status: %w", err)
	}
	return nil
}

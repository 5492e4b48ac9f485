package discovery

import (
	"context"
	"sync"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/hetzner"
	"github.com/hakgen/hakgen/state"
)

// API is the part of the Hetzner Cloud API discovery calls;
// *hetzner.Client implements it.
type API interface {
	Servers(ctx context.Context, labelSelector string) ([]hetzner.Server, hetzner.Usage, error)
	NetworkID(ctx context.Context, nameOrID string) (int64, hetzner.Usage, error)
}

var _ API = (*hetzner.Client)(nil)

// Connect returns the API for a state. It is called for every poll, so a
// rotated token (or a token file fixed after start) takes effect at the
// next poll.
type Connect func(s *state.State) (API, error)

// HCloud connects to the Cloud API at endpoint (hetzner.EndpointsFromEnv's
// API: $HCLOUD_ENDPOINT or Hetzner's) with the token the state names
// (hcloud.tokenFile, else floatingIP.tokenFile, else the systemd
// credential or $HCLOUD_TOKEN), with the failover's per-request timeouts
// and retries. The client is reused while the token stays the same, so
// polls keep their connection.
func HCloud(endpoint, version string, log *zap.Logger) Connect {
	var mu sync.Mutex
	var last hetzner.Token
	var client *hetzner.Client
	return func(s *state.State) (API, error) {
		path, _ := s.TokenFile()
		token, _, err := hetzner.LoadToken(path)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if client != nil && token == last {
			return client, nil
		}
		c, err := hetzner.NewClient(hetzner.Config{Endpoint: endpoint, Token: token, Version: version}, log)
		if err != nil {
			return nil, err
		}
		last, client = token, c
		return c, nil
	}
}

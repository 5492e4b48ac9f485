// Package hetzner moves a Hetzner Cloud Floating IP to this server through
// hcloud-go: token loading, endpoint selection, server ID discovery from
// the metadata service, and an assign that is fast, bounded and verified.
//
// The critical path of a failover is Client.Assign: with both IDs known it
// makes no request before the assign itself.
package hetzner

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"go.uber.org/zap"
)

// Defaults for Config.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultDeadline       = 30 * time.Second
	DefaultPollInterval   = 50 * time.Millisecond
	DefaultRetryBackoff   = 500 * time.Millisecond
	DefaultMaxRetries     = 5
	DefaultLockedBackoff  = 100 * time.Millisecond
	DefaultLowRateLimit   = 100
)

// maxLockedBackoff caps the wait between retries of a locked assign.
const maxLockedBackoff = time.Second

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	Endpoint string // API base URL; DefaultEndpoints.API when empty
	Token    Token  // required

	// RequestTimeout bounds each HTTP request (hcloud-go's own client has
	// no timeout). A request that times out is retried by hcloud-go.
	RequestTimeout time.Duration
	// Deadline bounds Assign when its context has no earlier deadline.
	Deadline time.Duration
	// PollInterval is the wait between polls of a running action, for
	// the first pollFastFor of it: a failover learns within 50 ms that its
	// assign completed. Later polls back off (see pollBackoff), so an
	// action that takes long costs few requests of the project's budget.
	PollInterval time.Duration
	// RetryBackoff is the first wait of hcloud-go's retries (rate limit,
	// conflict, bad gateway, timeouts); it doubles with jitter, capped at
	// eight times this. MaxRetries is how many retries hcloud-go makes
	// per request.
	RetryBackoff time.Duration
	MaxRetries   int
	// LockedBackoff is the first wait before retrying an assign refused
	// as locked; it doubles up to one second. Retries go on until the
	// deadline.
	LockedBackoff time.Duration
	// LowRateLimit: calls that leave fewer requests than this in the
	// project's budget log a warning.
	LowRateLimit int
	// Version is reported in the User-Agent as hakgen/Version.
	Version string
}

func (c *Config) setDefaults() {
	setDefault(&c.Endpoint, DefaultEndpoints.API)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	setDefault(&c.Deadline, DefaultDeadline)
	setDefault(&c.PollInterval, DefaultPollInterval)
	setDefault(&c.RetryBackoff, DefaultRetryBackoff)
	setDefault(&c.MaxRetries, DefaultMaxRetries)
	setDefault(&c.LockedBackoff, DefaultLockedBackoff)
	setDefault(&c.LowRateLimit, DefaultLowRateLimit)
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Client talks to the Cloud API for one project. It is safe for concurrent
// use.
type Client struct {
	api *hcloud.Client
	cfg Config
	log *zap.Logger
}

// NewClient returns a client for cfg. It makes no request.
func NewClient(cfg Config, log *zap.Logger) (*Client, error) {
	if cfg.Token == "" {
		return nil, ErrNoToken
	}
	if _, err := parseToken(cfg.Token.Reveal(), "the token"); err != nil {
		return nil, err
	}
	if cfg.Endpoint != "" {
		if err := checkEndpoint(cfg.Endpoint); err != nil {
			return nil, fmt.Errorf("API endpoint: %w", err)
		}
	}
	cfg.setDefaults()
	log = log.Named("hetzner")
	api := hcloud.NewClient(
		hcloud.WithEndpoint(cfg.Endpoint),
		hcloud.WithToken(cfg.Token.Reveal()),
		hcloud.WithHTTPClient(newHTTPClient(cfg.RequestTimeout, log)),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: pollBackoff(cfg.PollInterval)}),
		hcloud.WithRetryOpts(hcloud.RetryOpts{
			BackoffFunc: hcloud.ExponentialBackoffWithOpts(hcloud.ExponentialBackoffOpts{
				Base: cfg.RetryBackoff, Multiplier: 2, Cap: 8 * cfg.RetryBackoff, Jitter: true,
			}),
			MaxRetries: cfg.MaxRetries,
		}),
		hcloud.WithApplication("hakgen", cfg.Version),
	)
	return &Client{api: api, cfg: cfg, log: log}, nil
}

// pollFastFor is how long an action is polled every PollInterval; after
// that every 250 ms, and after pollSlowAfter every second.
const (
	pollFastFor   = 2 * time.Second
	pollSlowAfter = 7 * time.Second
)

// pollBackoff is hcloud-go's wait before poll number retries+1 of an
// action: fast while an assign usually completes (under a second), slower
// after. A failover's polls stay near 40 requests even when the action
// takes seconds, against the project's 3600 an hour.
func pollBackoff(fast time.Duration) hcloud.BackoffFunc {
	fastPolls := int(pollFastFor / fast)
	slowAt := fastPolls + int((pollSlowAfter-pollFastFor)/(250*time.Millisecond))
	return func(retries int) time.Duration {
		switch {
		case retries < fastPolls:
			return fast
		case retries < slowAt:
			return 250 * time.Millisecond
		}
		return time.Second
	}
}

// newHTTPClient is the API's own HTTP client: a per-request timeout, and a
// transport that feeds callStats. It is never shared with the metadata
// client, which overwrites the Timeout of the client it is given.
func newHTTPClient(timeout time.Duration, log *zap.Logger) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &http.Client{
		Timeout:   timeout,
		Transport: &statsTransport{next: tr, log: log},
	}
}

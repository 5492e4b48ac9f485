package hetzner

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/metadata"
)

// The environment variables that override the endpoints. HCLOUD_ENDPOINT
// is the hcloud CLI's own convention.
const (
	EnvEndpoint         = "HCLOUD_ENDPOINT"
	EnvMetadataEndpoint = "HCLOUD_METADATA_ENDPOINT"
)

// Endpoints are the base URLs of the Cloud API and of the metadata service.
type Endpoints struct {
	API      string // e.g. https://api.hetzner.cloud/v1
	Metadata string // e.g. http://169.254.169.254/hetzner/v1/metadata
}

// DefaultEndpoints are Hetzner's own.
var DefaultEndpoints = Endpoints{API: hcloud.Endpoint, Metadata: metadata.Endpoint}

// EndpointsFromEnv returns Hetzner's endpoints unless HCLOUD_ENDPOINT or
// HCLOUD_METADATA_ENDPOINT (read through getenv, usually os.Getenv) name
// others. An override must be an absolute http or https URL.
func EndpointsFromEnv(getenv func(string) string) (Endpoints, error) {
	e := DefaultEndpoints
	for _, o := range []struct {
		env string
		dst *string
	}{{EnvEndpoint, &e.API}, {EnvMetadataEndpoint, &e.Metadata}} {
		v := getenv(o.env)
		if v == "" {
			continue
		}
		if err := checkEndpoint(v); err != nil {
			return Endpoints{}, fmt.Errorf("%s: %w", o.env, err)
		}
		*o.dst = strings.TrimRight(v, "/")
	}
	return e, nil
}

func checkEndpoint(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", v)
	}
	if u.User != nil {
		return fmt.Errorf("%q: credentials in the URL are not supported", u.Redacted())
	}
	return nil
}

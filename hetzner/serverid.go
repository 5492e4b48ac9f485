package hetzner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/metadata"
	"go.uber.org/zap"

	"github.com/hakgen/hakgen/internal/atomicfile"
)

// DefaultStateDir is where runtime state lives, the server ID cache among
// it. /run is a tmpfs: the cache goes away at boot.
const DefaultStateDir = "/run/hakgen"

// ServerIDCacheFile is the cache's name inside the state directory.
const ServerIDCacheFile = "server-id"

// DefaultMetadataTimeout bounds the one request to the metadata service.
const DefaultMetadataTimeout = 2 * time.Second

// ServerIDSource finds this server's ID: from its cache file, else with one
// request to the metadata service, whose answer it then caches.
type ServerIDSource struct {
	endpoint string
	cache    string
	timeout  time.Duration
	log      *zap.Logger
}

// NewServerIDSource returns a source asking the metadata service at
// endpoint (DefaultEndpoints.Metadata when empty) and caching in
// cacheDir (DefaultStateDir when empty).
func NewServerIDSource(endpoint, cacheDir string, log *zap.Logger) *ServerIDSource {
	if endpoint == "" {
		endpoint = DefaultEndpoints.Metadata
	}
	if cacheDir == "" {
		cacheDir = DefaultStateDir
	}
	return &ServerIDSource{
		endpoint: endpoint,
		cache:    filepath.Join(cacheDir, ServerIDCacheFile),
		timeout:  DefaultMetadataTimeout,
		log:      log.Named("metadata"),
	}
}

// ServerID returns this server's ID. It makes at most one request, and
// none when the cache holds the ID. Failing to write the cache is logged
// and otherwise ignored: the ID is still right.
func (s *ServerIDSource) ServerID(ctx context.Context) (int64, error) {
	if id, err := s.readCache(); err == nil {
		return id, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("ignoring the server ID cache", zap.String("file", s.cache), zap.Error(err))
	}
	id, err := AskServerID(ctx, s.endpoint, s.timeout)
	if err != nil {
		return 0, err
	}
	if err := writeCache(s.cache, id); err != nil {
		s.log.Warn("cannot cache the server ID", zap.String("file", s.cache), zap.Error(err))
	}
	return id, nil
}

// AskServerID asks the metadata service at endpoint for this server's ID,
// once, bounded by timeout, without any cache.
func AskServerID(ctx context.Context, endpoint string, timeout time.Duration) (int64, error) {
	md := metadata.NewClient(
		metadata.WithEndpoint(endpoint),
		metadata.WithHTTPClient(metadataHTTPClient()),
		metadata.WithTimeout(timeout),
		metadata.WithApplication("hakgen", ""),
	)
	id, err := md.InstanceIDWithContext(ctx)
	if err != nil {
		return 0, fmt.Errorf("asking the metadata service for this server's ID: %w", err)
	}
	if id <= 0 {
		return 0, fmt.Errorf("the metadata service answered server ID %d", id)
	}
	return id, nil
}

func (s *ServerIDSource) readCache() (int64, error) {
	b, err := os.ReadFile(s.cache)
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s holds no server ID", s.cache)
	}
	return id, nil
}

// writeCache stores id in the cache file, creating its directory.
func writeCache(path string, id int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	_, err := atomicfile.Write(path, []byte(strconv.FormatInt(id, 10)+"\n"), 0o644)
	return err
}

// metadataHTTPClient is the metadata service's own client. The metadata
// client sets the Timeout of the http.Client it is given, so it gets its
// own; and it never uses a proxy: the service is link-local, on the
// server itself, and a proxy's answer would be cached as this server's ID
// (Go exempts only loopback from HTTP_PROXY, not 169.254.169.254).
func metadataHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
}

package haproxytest

import (
	"path/filepath"
	"regexp"
)

var (
	productionOnly = regexp.MustCompile(`(?m)^    (chroot /var/lib/haproxy|user haproxy|group haproxy)\n`)
	adminSocket    = regexp.MustCompile(`(?m)^(    stats socket )/run/haproxy/admin\.sock `)
)

// Localize adapts a haproxy.cfg rendered for a production host so a test can
// run it with Start: it drops chroot, user and group, and moves the admin
// socket into dir. Everything else, listeners included, stays as rendered,
// so a test state must bind loopback addresses and free ports.
func Localize(cfg []byte, dir string) []byte {
	out := productionOnly.ReplaceAll(cfg, nil)
	return adminSocket.ReplaceAll(out, []byte("${1}"+filepath.Join(dir, "admin.sock")+" "))
}

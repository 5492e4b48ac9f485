// Package e2e holds the end-to-end tests that need root and real parts: a
// throwaway systemd booted as PID 1 in private namespaces (see e2e/sdbox),
// Debian's haproxy.service running under it, and network namespaces.
//
// The tests skip without root or the tools, and fail instead when
// HAKGEN_REQUIRE_TOOLS=1. They never touch the host's services, network or
// configuration: everything they start lives, and dies, inside a machine.
package e2e

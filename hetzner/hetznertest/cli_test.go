package hetznertest_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
	"github.com/hakgen/hakgen/internal/tooltest"
)

// TestHcloudCLIAssign runs Debian's hcloud CLI against the fake: the fake
// must satisfy the real client, and the test records which requests the
// usual way of moving a Floating IP makes.
func TestHcloudCLIAssign(t *testing.T) {
	hcloud := tooltest.Need(t, "hcloud")
	fake := hetznertest.New(t)
	fake.RequireToken("x")
	fake.PlanActions(hetznertest.ActionPlan{RunningPolls: 1})

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hcloud, "floating-ip", "assign", "4711", "1001")
	cmd.Env = []string{
		"HCLOUD_ENDPOINT=" + fake.APIEndpoint(),
		"HCLOUD_TOKEN=x",
		"HOME=" + t.TempDir(), // no user configuration
		"PATH=/usr/bin:/bin",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hcloud floating-ip assign: %v\n%s", err, out)
	}
	t.Logf("hcloud said: %s", strings.TrimSpace(string(out)))
	for _, r := range fake.Requests() {
		t.Logf("%s -> %d", r, r.Status)
	}

	if got := fake.Owner(hetznertest.FloatingIPID); got != hetznertest.ThisServer {
		t.Errorf("owner after the CLI's assign = %d, want %d", got, hetznertest.ThisServer)
	}
	eps := fake.Endpoints()
	assignAt := slices.Index(eps, hetznertest.Assign)
	if assignAt < 0 {
		t.Fatalf("the CLI never posted an assign: %v", eps)
	}
	// The usual way looks both objects up before the assign.
	before := eps[:assignAt]
	for _, want := range []hetznertest.Endpoint{hetznertest.GetFloatingIP, hetznertest.GetServer} {
		if !slices.Contains(before, want) {
			t.Errorf("requests before the assign = %v, want a %s among them", before, want)
		}
	}
	polls := 0
	for _, ep := range eps[assignAt+1:] {
		if ep == hetznertest.GetAction || ep == hetznertest.ListActions {
			polls++
		}
	}
	if polls == 0 {
		t.Errorf("requests after the assign = %v, want action polling", eps[assignAt+1:])
	}
}

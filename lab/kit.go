package lab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hakgen/hakgen/internal/tooltest"
)

// Tools are the binaries the lab runs, found with tooltest (a missing one
// skips the test, or fails it with HAKGEN_REQUIRE_TOOLS=1).
type Tools struct {
	Unshare, Nsenter, IP, Bash string
	HAProxy, Keepalived        string
	// Hcloud and Killall are needed by the seed's way only; Nft by rules
	// a scenario loads (Node.Nft). Empty when not looked for.
	Hcloud, Killall, Nft string
}

// Kit is what every lab of a test shares: the tools, and hakgen-agent
// built once from this checkout.
type Kit struct {
	Tools Tools
	// LogDir, when set, receives every lab's journals when it is torn
	// down: LogDir/TEST/NODE.log, api.log (the fake's requests) and
	// route.log (the Floating IP's routes).
	LogDir string

	binDir string // holds hakgen-agent; laid over each load balancer's /usr/bin
}

// NewKit finds the tools (root is required) and builds hakgen-agent. seed
// asks for the seed's tools too.
func NewKit(tb testing.TB, seed bool) *Kit {
	tb.Helper()
	k := &Kit{Tools: FindTools(tb, seed)}
	k.binDir = buildAgent(tb, tooltest.Need(tb, "go"))
	return k
}

// FindTools finds the lab's tools (root is required); seed asks for the
// seed's way's too.
func FindTools(tb testing.TB, seed bool) Tools {
	tb.Helper()
	tooltest.NeedRoot(tb)
	t := Tools{
		Unshare:    tooltest.Need(tb, "unshare"),
		Nsenter:    tooltest.Need(tb, "nsenter"),
		IP:         tooltest.Need(tb, "ip"),
		Bash:       tooltest.Need(tb, "bash"),
		HAProxy:    tooltest.Need(tb, "/usr/sbin/haproxy"),
		Keepalived: tooltest.Need(tb, "/usr/sbin/keepalived"),
		Nft:        tooltest.Need(tb, "nft"),
	}
	if seed {
		t.Hcloud = tooltest.Need(tb, "hcloud")
		t.Killall = tooltest.Need(tb, "killall")
	}
	return t
}

// buildAgent builds cmd/hakgen-agent into a new directory and returns it.
// In a load balancer the directory is the top of /usr/bin, whose owner and
// mode it then lends: root's and 0755, as keepalived's script security
// wants.
func buildAgent(tb testing.TB, goBin string) string {
	tb.Helper()
	root, err := repoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	tmp := tb.TempDir()
	tb.Cleanup(removeOnInterrupt(filepath.Dir(tmp))) // the test's, made by TempDir
	dir := filepath.Join(tmp, "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", filepath.Join(dir, "hakgen-agent"), "./cmd/hakgen-agent")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building hakgen-agent: %v\n%s", err, out)
	}
	return dir
}

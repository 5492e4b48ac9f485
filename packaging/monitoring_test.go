package packaging_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakgen/hakgen/internal/tooltest"
)

// TestMonitoringRules checks the alerting rules with Prometheus's own
// promtool: they load, and each alert fires on the series it is about and
// not on a healthy pair (hakgen-alerts_test.yaml).
func TestMonitoringRules(t *testing.T) {
	promtool := tooltest.Need(t, "promtool")
	dir := filepath.Join(repoRoot(t), "packaging", "monitoring")
	for _, args := range [][]string{{"check", "rules", "hakgen-alerts.yaml"}, {"test", "rules", "hakgen-alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

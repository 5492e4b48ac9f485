package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hakgen/hakgen/hetzner/hetznertest"
)

// The tools measured, by name.
const (
	agentTool    = "hakgen-agent notify MASTER"
	metadataTool = "hakgen-agent notify MASTER (server ID from metadata)"
	hcloudTool   = "hcloud floating-ip assign"
)

const stateTemplate = `controlPlanes: [{name: cp1, address: 10.0.0.11}]
loadBalancers:
  - {name: lb1, address: 10.0.0.5SERVERID}
  - {name: lb2, address: 10.0.0.6}
floatingIP: {id: %d, address: %s, tokenFile: hcloud-token}
keepalived: {interface: enp7s0}
`

// setup writes the state files and the token into dir and returns the
// tools to measure.
func setup(dir, agent, hcloud string, f *hetznertest.Fake) ([]tool, error) {
	if err := os.WriteFile(filepath.Join(dir, "hcloud-token"), []byte(benchToken+"\n"), 0o600); err != nil {
		return nil, err
	}
	base := fmt.Sprintf(stateTemplate, hetznertest.FloatingIPID, hetznertest.FloatingIPAddress)
	withID := strings.Replace(base, "SERVERID", fmt.Sprintf(", serverID: %d", hetznertest.ThisServer), 1)
	withoutID := strings.Replace(base, "SERVERID", "", 1)
	for name, content := range map[string]string{"state.yaml": withID, "state-metadata.yaml": withoutID} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	agentEnv := []string{"HCLOUD_ENDPOINT=" + f.APIEndpoint(), "HCLOUD_METADATA_ENDPOINT=" + f.MetadataEndpoint(), "PATH=/usr/bin:/bin"}
	notify := func(stateFile, stateDir string) []string {
		return []string{agent, "notify", "--state", filepath.Join(dir, stateFile), "--state-dir", filepath.Join(dir, stateDir),
			"--node", "lb1", "--syslog", "", "MASTER"}
	}
	return []tool{
		{name: agentTool, argv: notify("state.yaml", "run"), env: agentEnv},
		{name: metadataTool, argv: notify("state-metadata.yaml", "run-metadata"), env: agentEnv},
		{name: hcloudTool, argv: []string{hcloud, "floating-ip", "assign", fmt.Sprint(hetznertest.FloatingIPID), fmt.Sprint(hetznertest.ThisServer)},
			env: []string{"HCLOUD_ENDPOINT=" + f.APIEndpoint(), "HCLOUD_TOKEN=" + benchToken, "HOME=" + dir, "PATH=/usr/bin:/bin"}},
	}, nil
}

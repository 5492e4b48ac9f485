package discovery_test

import (
	"strconv"

	"go.uber.org/zap"

	"github.com/hakgen/hakgen/agent"
	"github.com/hakgen/hakgen/haproxy"
	"github.com/hakgen/hakgen/haproxy/haproxytest"
	"github.com/hakgen/hakgen/haproxy/serverplan"
	"github.com/hakgen/hakgen/state"
)

// haproxyTarget is the lab's haproxy.cfg: checked by the real haproxy -c,
// changed through the Runtime API where only servers differ, else
// reloaded through the master socket with the servers' state saved first,
// as `hakgen-agent run --reload master-socket` does.
func haproxyTarget(in *haproxytest.Instance, bin, cfgPath, lastGood, serverState string, render func(*state.State) ([]byte, error), log *zap.Logger) agent.Target {
	return agent.Target{
		Name: "haproxy", Path: cfgPath, LastGood: lastGood, Render: render,
		Checker:  haproxy.Checker{Bin: bin, Args: []string{"-S", in.Socket}},
		Reloader: agent.ServerStateReloader{Reloader: haproxy.NewMasterReloader(in.Master, log), Master: in.Master, Path: serverState, Config: cfgPath, Log: log},
		Runtime:  serverplan.Updater{Master: in.Master, StateFile: serverState, Log: log},
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

package lab

import (
	"os/exec"
	"runtime"
	"sync"
)

// The long-lived children of the lab (the nodes' holders and the processes
// entered into them) are started with Pdeathsig, so they die with the test
// process even when it is killed before its cleanups run. Linux sends that
// signal when the *thread* that forked the child exits, and Go ends a
// thread whenever a goroutine locked to it returns (the lab's namespace
// dials do exactly that). So every such child is forked from one thread
// that never exits: a goroutine locked to it for the life of the process.
var (
	spawnOnce sync.Once
	spawnReqs chan func()
)

// start runs cmd.Start on the spawner thread.
func start(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for f := range spawnReqs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	spawnReqs <- func() { errc <- cmd.Start() }
	return <-errc
}

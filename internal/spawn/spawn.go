// Package spawn starts child processes that must die with the test or
// tool that started them, even when it is killed before its cleanups run.
//
// Such children are started with Pdeathsig. Linux sends that signal when
// the *thread* that forked the child exits, not the process, and Go ends
// a thread whenever a goroutine locked to it returns (every helper that
// enters a namespace with setns does exactly that). A child forked from
// an ordinary goroutine can therefore be killed at any moment, by any
// later namespace helper that happens to run on the forking thread. So
// every such child is forked from one thread that never exits: a
// goroutine locked to it for the life of the process.
package spawn

import (
	"os/exec"
	"runtime"
	"sync"
)

var (
	once sync.Once
	reqs chan func()
)

// Start runs cmd.Start on the spawner thread.
func Start(cmd *exec.Cmd) error {
	once.Do(func() {
		reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for f := range reqs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

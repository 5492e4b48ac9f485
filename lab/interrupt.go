package lab

import (
	"os"
	"sync"
)

// A test binary that is interrupted (SIGINT, SIGTERM) exits without
// running its cleanups. The labs' processes die with it anyway (every one
// is started with Pdeathsig), but their directories would stay behind:
// TearDownAll, called from the test binary's signal handler, removes them.
var interrupt = struct {
	sync.Mutex
	next  int
	funcs map[int]func()
}{funcs: map[int]func(){}}

// onInterrupt registers f for TearDownAll and returns what unregisters it.
func onInterrupt(f func()) (unregister func()) {
	interrupt.Lock()
	defer interrupt.Unlock()
	id := interrupt.next
	interrupt.next++
	interrupt.funcs[id] = f
	return func() {
		interrupt.Lock()
		defer interrupt.Unlock()
		delete(interrupt.funcs, id)
	}
}

// TearDownAll kills every lab not torn down yet and removes the
// directories of the labs and kits. The test binary must exit afterwards.
func TearDownAll() {
	interrupt.Lock()
	funcs := interrupt.funcs
	interrupt.funcs = map[int]func(){}
	interrupt.Unlock()
	for _, f := range funcs {
		f()
	}
}

// removeOnInterrupt registers dir for removal by TearDownAll.
func removeOnInterrupt(dir string) (unregister func()) {
	return onInterrupt(func() { _ = os.RemoveAll(dir) })
}

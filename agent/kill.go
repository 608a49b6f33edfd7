package agent

import (
	"os"
	"os/exec"
	"sync"
)

// running holds the commands under way in this process, for Kill: the
// second signal ends streamctl at once, and the kernel's parent-death
// signal reaches a command's shell alone, not the programs it started.
var running struct {
	mu     sync.Mutex
	procs  map[*os.Process]struct{}
	killed bool
}

// start starts cmd and counts it as running until wait.
func start(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	running.mu.Lock()
	defer running.mu.Unlock()
	if running.killed {
		killTree(cmd.Process)
		return nil
	}
	if running.procs == nil {
		running.procs = map[*os.Process]struct{}{}
	}
	running.procs[cmd.Process] = struct{}{}
	return nil
}

// wait waits for cmd, which start started.
func wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	running.mu.Lock()
	delete(running.procs, cmd.Process)
	running.mu.Unlock()
	return err
}

// run is start, then wait.
func run(cmd *exec.Cmd) error {
	if err := start(cmd); err != nil {
		return err
	}
	return wait(cmd)
}

// Kill kills every command under way with what it started (its process
// group, where there are such), and any started after: for a stop that
// does not wait for them, just before the process exits.
func Kill() {
	running.mu.Lock()
	defer running.mu.Unlock()
	running.killed = true
	for p := range running.procs {
		killTree(p)
	}
}

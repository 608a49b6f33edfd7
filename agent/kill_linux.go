package agent

import (
	"os"
	"os/exec"
	"syscall"
)

// setKillWithParent puts the command in a process group of its own, so
// that a terminal's Ctrl-C reaches streamctl alone (which lets in-flight
// commands finish), and has the kernel kill it if streamctl dies (a second
// signal, a SIGKILL): no command outlives the worker that ran it. What the
// command started is in its group, which Kill ends.
func setKillWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killTree kills p's process group: p and what it started.
func killTree(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }

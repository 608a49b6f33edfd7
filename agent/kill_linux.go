package agent

import (
	"os/exec"
	"syscall"
)

// setKillWithParent puts the command in a process group of its own, so
// that a terminal's Ctrl-C reaches streamctl alone (which lets in-flight
// commands finish), and has the kernel kill it if streamctl dies (a second
// signal, a SIGKILL): no command outlives the worker that ran it.
func setKillWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

//go:build !linux

package agent

import (
	"os"
	"os/exec"
)

// setKillWithParent does nothing where the kernel cannot kill a child
// with its parent.
func setKillWithParent(*exec.Cmd) {}

// killTree kills p.
func killTree(p *os.Process) { _ = p.Kill() }

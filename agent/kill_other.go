//go:build !linux

package agent

import "os/exec"

// setKillWithParent does nothing where the kernel cannot kill a child
// with its parent.
func setKillWithParent(*exec.Cmd) {}

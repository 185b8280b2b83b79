//go:build !linux

package testenv

import (
	"os/exec"
	"syscall"
)

// sysProcAttr runs the child as cred. Without Linux's parent-death signal a
// killed test process may leave its servers running; Main and tb.Cleanup
// still stop them on a normal exit.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}

func startDying(cmd *exec.Cmd) error { return cmd.Start() }

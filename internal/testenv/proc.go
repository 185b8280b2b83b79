package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// server is a long-running child process that can be stopped and started
// again with the same arguments. It dies with the test process (see
// startDying) so a crashed or timed-out test leaves no server behind.
type server struct {
	path    string
	args    []string
	dir     string
	cred    *syscall.Credential // nil: run as ourselves
	logPath string              // stdout and stderr are appended here
	stopSig os.Signal           // asks the server to shut down

	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been reaped
}

// start starts the process. The caller waits for readiness.
func (s *server) start() error {
	if s.running() {
		return fmt.Errorf("%s is already running", s.path)
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(s.path, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr(s.cred)
	if err := startDying(cmd); err != nil {
		return fmt.Errorf("start %s: %w", s.path, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	return nil
}

// running reports whether the process was started and has not exited.
func (s *server) running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop sends stopSig and waits for the process to exit; after timeout it
// kills the process and reports an error.
func (s *server) stop(timeout time.Duration) error {
	if !s.running() {
		return nil
	}
	_ = s.cmd.Process.Signal(s.stopSig)
	select {
	case <-s.exited:
		return nil
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("%s did not stop within %v after %v; killed it", s.path, timeout, s.stopSig)
	}
}

// kill ends the process at once and waits for it.
func (s *server) kill() {
	if !s.running() {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

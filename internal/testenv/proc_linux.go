package testenv

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// sysProcAttr runs the child as cred (nil: as ourselves) and has the kernel
// send it SIGINT when its parent dies. For PostgreSQL SIGINT is a fast
// shutdown; Mailpit treats it like SIGTERM.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
}

// The parent-death signal fires when the forking OS thread exits, not the
// process, and the Go runtime may end idle threads. So every server is forked
// from one goroutine locked to its thread for the life of the process.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan<- error
}

// startDying starts cmd from the locked spawner thread.
func startDying(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as we do
			for r := range spawner.reqs {
				r.err <- r.cmd.Start()
			}
		}()
	})
	errc := make(chan error, 1)
	spawner.reqs <- spawnReq{cmd: cmd, err: errc}
	return <-errc
}

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// buildCruxd builds cmd/cruxd (no race detector) into dir.
func buildCruxd(dir string) (string, error) {
	path := filepath.Join(dir, "cruxd")
	cmd := exec.Command("go", "build", "-o", path, "github.com/cruxd/cruxd/cmd/cruxd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cruxd: %v\n%s", err, out)
	}
	return path, nil
}

// process is a running cruxd or bare server.
type process struct {
	cmd     *exec.Cmd
	url     string // http://127.0.0.1:PORT
	started time.Time
	ready   time.Duration // exec to "listening on"
	done    chan struct{}
}

// startProcess runs path with args, its stderr appended to logPath, and
// returns once it prints "listening on http://ADDR" (or fails to within
// 60s).
func startProcess(path string, args, env []string, logPath string) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		defer f.Close() // the child holds its own descriptor
		cmd.Stderr = f
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on http://"); ok {
				select {
				case addrc <- a:
				default:
				}
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(p.done)
	}()
	select {
	case a := <-addrc:
		p.ready = time.Since(p.started)
		p.url = "http://" + a
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening: %v (log: %s)", filepath.Base(path), cmd.ProcessState, logPath)
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s did not listen within 60s", filepath.Base(path))
	}
}

// stop sends SIGTERM and waits up to 10s, then kills.
func (p *process) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// procStatus returns pid's /proc/PID/status (VmRSS, VmHWM in bytes).
func procStatus(pid int) (procfs.ProcStatus, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procfs.ProcStatus{}, err
	}
	return p.NewStatus()
}

// procUsage is a process's CPU time and minor page faults so far
// (/proc/PID/stat), to tell what an attack cost the server.
type procUsage struct {
	user, sys time.Duration
	minflt    int64
}

// readUsage reads pid's procUsage; the zero value if it cannot.
func readUsage(pid int) procUsage {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procUsage{}
	}
	st, err := p.Stat()
	if err != nil {
		return procUsage{}
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return procUsage{user: time.Duration(st.UTime) * tick, sys: time.Duration(st.STime) * tick, minflt: int64(st.MinFlt)}
}

func (u procUsage) sub(v procUsage) procUsage {
	return procUsage{user: u.user - v.user, sys: u.sys - v.sys, minflt: u.minflt - v.minflt}
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux
// clear_refs 5), so a phase's peak is its own.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// timeStartup starts cruxd with args and returns the time from exec to its
// first successful response to probe (a GET), polling every millisecond
// from the moment it prints its address.
func timeStartup(path string, args, env []string, logPath, probePath string) (time.Duration, error) {
	p, err := startProcess(path, args, env, logPath)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(p.url + probePath)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return time.Since(p.started), nil
			}
			return 0, fmt.Errorf("start-up probe: %s", resp.Status)
		}
		time.Sleep(time.Millisecond)
	}
	return 0, errors.New("start-up probe: no successful response within 10s")
}

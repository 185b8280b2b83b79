package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// SmallFS mounts a tmpfs of size bytes on a new directory and returns the
// directory; the test's cleanup unmounts it. A full-disk test needs a
// filesystem it can fill in a moment. Mounting needs root: without it the
// test fails in CI and skips elsewhere.
func SmallFS(tb testing.TB, size int64) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "cruxd-smallfs-")
	if err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		os.Remove(dir)
		unavailable(tb, "a small tmpfs (mount -t tmpfs, as root)", strings.TrimSpace(err.Error()+": "+string(out)))
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			// A file still open (a failed test's) keeps it busy: detach
			// it now, so that no mount outlives the test process.
			tb.Errorf("umount %s: %v: %s", dir, err, out)
			exec.Command("umount", "--lazy", dir).Run()
		}
		os.Remove(dir)
	})
	return dir
}

// Fill writes a file in dir until its filesystem is full and returns the
// file's path: removing it gives the room back.
func Fill(tb testing.TB, dir string) string {
	tb.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 16<<10)
	for range 1 << 16 {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				tb.Fatal(err)
			}
			return path
		}
	}
	tb.Fatal("the filesystem never filled")
	return ""
}

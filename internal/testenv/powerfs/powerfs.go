// Package powerfs is a test file system that loses every write not yet
// fsynced when the power is cut, in the manner of LazyFS: a FUSE loopback
// over a backing directory that holds each file's written data in memory
// until an fsync or fdatasync of that file writes it through.
//
// The model of a power cut:
//   - Data written to a file and not yet fsynced is lost: the file reads
//     back as it was at its last fsync, with that fsync's size. An fsync of
//     any descriptor of a file makes all of the file's data durable, as
//     Linux does.
//   - Data that was fsynced survives whole.
//   - Metadata operations are durable at once: create, mkdir, rename,
//     unlink, link, truncate, chmod and utimes go straight to the backing
//     directory.
//
// What it does not model: lost, reordered or torn metadata operations (a
// rename or create undone by the cut), torn or reordered pages within one
// fsync, a file whose fsync failed, or writes the disk's own cache loses.
// The backing directory stands for the disk: what reaches it survives, so
// powerfs does not fsync it (the host's power is never cut).
//
// A cut ends the mount: the FUSE server answers nothing after it (EIO), and
// a fresh mount on the same backing directory starts from what survived,
// with a kernel page cache that knows nothing of the old one. Writes to a
// shared mmap reach the file system when the kernel writes the pages back,
// and are held like any other write; SQLite's -shm file works, and loses
// its content in a cut, which SQLite rebuilds. Locks are the kernel's own
// (local to this machine), fallocate, copy_file_range and O_TMPFILE are
// refused.
package powerfs

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FS is a mounted power-loss file system.
type FS struct {
	dir    string
	server *fuse.Server

	mu    sync.Mutex // guards cut, dirty and every file's unsynced data
	cut   bool
	dirty map[*node]bool // the files holding unsynced data
}

// Mount serves backing at dir (an existing, empty directory). Mounting
// needs root, /dev/fuse, and fusermount3 where mount(2) itself fails.
func Mount(backing, dir string) (*FS, error) {
	loopback, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, fmt.Errorf("powerfs: backing directory: %w", err)
	}
	f := &FS{dir: dir, dirty: map[*node]bool{}}
	root := &node{LoopbackNode: loopback.(*fs.LoopbackNode), fs: f}
	// No kernel caching of names or attributes: every stat shows the
	// size as written, and nothing cached outlives a cut. The page cache
	// is write-through (no writeback cache), so every write reaches
	// powerfs before the write call returns.
	var zero time.Duration
	opts := &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName:      "powerfs",
			Name:        "powerfs",
			DirectMount: true,
		},
	}
	srv, err := fs.Mount(dir, root, opts)
	if err != nil {
		return nil, fmt.Errorf("powerfs: mount %s on %s: %w", backing, dir, err)
	}
	f.server = srv
	return f, nil
}

// Dir returns the mount point.
func (f *FS) Dir() string { return f.dir }

// Cut cuts the power: every write not yet fsynced is lost, the file system
// answers EIO from now on, and it is unmounted. Processes using it must be
// gone (killed) first, or the unmount detaches it lazily. Mount the backing
// directory again to see what survived. Cut returns the unsynced bytes it
// dropped, by file (the path on the mount; whole pages are counted).
func (f *FS) Cut() (map[string]int64, error) {
	f.mu.Lock()
	f.cut = true
	lost := map[string]int64{}
	for n := range f.dirty {
		lost[n.Path(nil)] += int64(len(n.u.pages)) * pageSize
	}
	f.mu.Unlock()
	return lost, f.unmount()
}

// Unmount unmounts the file system, keeping nothing that was not fsynced
// (an unmount is no sync either).
func (f *FS) Unmount() error {
	_, err := f.Cut()
	return err
}

func (f *FS) unmount() error {
	if f.server == nil {
		return nil
	}
	srv := f.server
	f.server = nil
	err := srv.Unmount()
	if err != nil {
		// Still busy: a killed process's files may be closing yet.
		// Detach it; the kernel drops it once they are closed.
		if derr := syscall.Unmount(f.dir, syscall.MNT_DETACH); derr != nil {
			return errors.Join(fmt.Errorf("powerfs: unmount %s: %w", f.dir, err), derr)
		}
		go srv.Wait()
		return nil
	}
	srv.Wait()
	return nil
}

// errCut is what every file operation answers after the cut.
const errCut = syscall.EIO

// pageSize is the unit in which unsynced data is held.
const pageSize = 4096

// unsynced is one file's data written since its last fsync.
type unsynced struct {
	pages map[int64][]byte // page number → the page as written
	size  int64            // the file's size as written
}

// truncate cuts or extends u to size.
func (u *unsynced) truncate(size int64) {
	for i, p := range u.pages {
		start := i * pageSize
		switch {
		case start >= size:
			delete(u.pages, i)
		case start+pageSize > size:
			clear(p[size-start:])
		}
	}
	u.size = size
}

// fileSize returns the size of the backing file open as fd.
func fileSize(fd *os.File) (int64, error) {
	fi, err := fd.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

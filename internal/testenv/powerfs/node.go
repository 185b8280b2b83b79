package powerfs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a loopback file or directory whose data writes wait in memory
// for an fsync. Its operations take over every path by which data reaches
// or leaves the backing file; the loopback's own serve the rest.
type node struct {
	*fs.LoopbackNode
	fs *FS
	u  *unsynced // nil while everything written is on the backing file; guarded by fs.mu
}

// WrapChild makes every node the loopback creates a powerfs node.
func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*fs.LoopbackNode), fs: n.fs}
}

// handle is an open file: a descriptor of the backing file, always opened
// read-write so that powerfs can read pages around a write and write
// through on fsync. It offers the kernel no passthrough.
type handle struct{ f *os.File }

var _ fs.FileReleaser = (*handle)(nil)

func (h *handle) Release(context.Context) syscall.Errno { return fs.ToErrno(h.f.Close()) }

var (
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeReader         = (*node)(nil)
	_ fs.NodeWriter         = (*node)(nil)
	_ fs.NodeFsyncer        = (*node)(nil)
	_ fs.NodeGetattrer      = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeStatxer        = (*node)(nil)
	_ fs.NodeAllocater      = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
	_ fs.NodeTmpfiler       = (*node)(nil)
	_ fs.NodeWrapChilder    = (*node)(nil)
)

// backingPath returns the node's path in the backing directory.
func (n *node) backingPath() string {
	return filepath.Join(n.RootData.Path, n.Path(nil))
}

// drop forgets the unsynced data; the caller holds n.fs.mu.
func (n *node) drop() {
	n.u = nil
	delete(n.fs.dirty, n)
}

// isCut reports whether the power is off; the caller holds n.fs.mu.
func (n *node) isCut() bool { return n.fs.cut }

// openFlags makes the kernel's open flags the backing file's: read-write
// always, no append (the kernel sends offsets), no exec marker.
func openFlags(flags uint32) int {
	flags &^= syscall.O_APPEND | fuse.FMODE_EXEC | syscall.O_ACCMODE
	return int(flags) | os.O_RDWR
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.isCut() {
		return nil, 0, errCut
	}
	f, err := os.OpenFile(n.backingPath(), openFlags(flags), 0)
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	if flags&syscall.O_TRUNC != 0 {
		n.drop() // the open truncated the backing file
	}
	return &handle{f}, 0, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.isCut() {
		return nil, nil, 0, errCut
	}
	p := filepath.Join(n.backingPath(), name)
	fl := openFlags(flags)
	fresh := true
	f, err := os.OpenFile(p, fl|os.O_CREATE|os.O_EXCL, os.FileMode(mode))
	if errors.Is(err, os.ErrExist) && fl&os.O_EXCL == 0 {
		fresh = false
		f, err = os.OpenFile(p, fl|os.O_CREATE, os.FileMode(mode))
	}
	if err != nil {
		return nil, nil, 0, fs.ToErrno(err)
	}
	ch, errno := n.LoopbackNode.Lookup(ctx, name, out)
	if errno != 0 {
		f.Close()
		return nil, nil, 0, errno
	}
	// A new file has nothing unsynced, even if its inode number is a
	// deleted file's that the kernel still remembers.
	if cn, ok := ch.Operations().(*node); ok && (fresh || fl&os.O_TRUNC != 0) {
		cn.drop()
	}
	return ch, &handle{f}, 0, 0
}

// handleOf returns the backing file of an open file handle.
func handleOf(f fs.FileHandle) (*os.File, syscall.Errno) {
	h, ok := f.(*handle)
	if !ok {
		return nil, syscall.EBADF
	}
	return h.f, 0
}

func (n *node) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	bf, errno := handleOf(f)
	if errno != 0 {
		return nil, errno
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.isCut() {
		return nil, errCut
	}
	size, err := n.size(bf)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	if off >= size {
		return fuse.ReadResultData(nil), 0
	}
	buf := dest[:min(int64(len(dest)), size-off)]
	got, err := bf.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return nil, fs.ToErrno(err)
	}
	clear(buf[got:]) // written but not synced beyond the backing file's end
	if n.u != nil {
		end := off + int64(len(buf))
		for i := off / pageSize; i*pageSize < end; i++ {
			if p, ok := n.u.pages[i]; ok {
				overlay(buf, off, p, i*pageSize)
			}
		}
	}
	return fuse.ReadResultData(buf), 0
}

// overlay copies the part of page p (at file offset pOff) that overlaps
// buf (at file offset bufOff) into buf.
func overlay(buf []byte, bufOff int64, p []byte, pOff int64) {
	if pOff >= bufOff {
		copy(buf[pOff-bufOff:], p)
	} else {
		copy(buf, p[bufOff-pOff:])
	}
}

// size returns the file's size as written; the caller holds n.fs.mu.
func (n *node) size(bf *os.File) (int64, error) {
	if n.u != nil {
		return n.u.size, nil
	}
	return fileSize(bf)
}

func (n *node) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	bf, errno := handleOf(f)
	if errno != 0 {
		return 0, errno
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.isCut() {
		return 0, errCut
	}
	if n.u == nil {
		size, err := fileSize(bf)
		if err != nil {
			return 0, fs.ToErrno(err)
		}
		n.u = &unsynced{pages: map[int64][]byte{}, size: size}
		n.fs.dirty[n] = true
	}
	for done := 0; done < len(data); {
		pos := off + int64(done)
		i := pos / pageSize
		p, ok := n.u.pages[i]
		if !ok {
			// The page as it is: on the backing file up to the backing
			// file's end, zeros beyond (unsynced pages are all in u).
			p = make([]byte, pageSize)
			if _, err := bf.ReadAt(p, i*pageSize); err != nil && err != io.EOF {
				return 0, fs.ToErrno(err)
			}
			n.u.pages[i] = p
		}
		done += copy(p[pos-i*pageSize:], data[done:])
	}
	n.u.size = max(n.u.size, off+int64(len(data)))
	return uint32(len(data)), 0
}

// Fsync writes the file's unsynced data through to the backing file; it
// survives a cut from then on. It serves fsync and fdatasync alike.
func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.isCut() {
		return errCut
	}
	if n.u == nil {
		return 0
	}
	bf, errno := handleOf(f)
	if errno != 0 {
		// fsync(2) of a directory, or a handle the kernel did not name.
		of, err := os.OpenFile(n.backingPath(), os.O_RDWR, 0)
		if err != nil {
			return fs.ToErrno(err)
		}
		defer of.Close()
		bf = of
	}
	for i, p := range n.u.pages {
		start := i * pageSize
		if _, err := bf.WriteAt(p[:min(pageSize, n.u.size-start)], start); err != nil {
			return fs.ToErrno(err)
		}
	}
	if err := bf.Truncate(n.u.size); err != nil {
		return fs.ToErrno(err)
	}
	n.drop()
	return 0
}

func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	var err error
	if bf, errno := handleOf(f); errno == 0 {
		err = syscall.Fstat(int(bf.Fd()), &st)
	} else {
		err = syscall.Lstat(n.backingPath(), &st)
	}
	if err != nil {
		return fs.ToErrno(err)
	}
	out.FromStat(&st)
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.isCut() {
		return errCut
	}
	if n.u != nil {
		out.Size = uint64(n.u.size)
	}
	return 0
}

// Setattr truncates the backing file at once (a truncate is metadata) and
// the unsynced data with it; other attributes go to the loopback.
func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.fs.mu.Lock()
	if n.isCut() {
		n.fs.mu.Unlock()
		return errCut
	}
	if size, ok := in.GetSize(); ok {
		var err error
		if bf, errno := handleOf(f); errno == 0 {
			err = bf.Truncate(int64(size))
		} else {
			err = os.Truncate(n.backingPath(), int64(size))
		}
		if err != nil {
			n.fs.mu.Unlock()
			return fs.ToErrno(err)
		}
		if n.u != nil {
			n.u.truncate(int64(size))
		}
		in.Valid &^= fuse.FATTR_SIZE
	}
	n.fs.mu.Unlock()
	if errno := n.LoopbackNode.Setattr(ctx, nil, in, out); errno != 0 {
		return errno
	}
	return n.Getattr(ctx, f, out)
}

// forget drops the unsynced data of dir's entry name if removing it removes
// the file's last link: a new file may get its inode number.
func (n *node) forget(dir *fs.Inode, dirPath, name string) func() {
	var st syscall.Stat_t
	if syscall.Lstat(filepath.Join(dirPath, name), &st) != nil || st.Nlink > 1 {
		return func() {}
	}
	ch := dir.GetChild(name)
	if ch == nil {
		return func() {}
	}
	return func() {
		if cn, ok := ch.Operations().(*node); ok {
			n.fs.mu.Lock()
			cn.drop()
			n.fs.mu.Unlock()
		}
	}
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if n.cutNow() {
		return errCut
	}
	drop := n.forget(n.EmbeddedInode(), n.backingPath(), name)
	if errno := n.LoopbackNode.Unlink(ctx, name); errno != 0 {
		return errno
	}
	drop()
	return 0
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if n.cutNow() {
		return errCut
	}
	drop := func() {}
	if flags&fs.RENAME_EXCHANGE == 0 {
		np := newParent.EmbeddedInode()
		drop = n.forget(np, filepath.Join(n.RootData.Path, np.Path(nil)), newName)
	}
	if errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags); errno != 0 {
		return errno
	}
	drop()
	return 0
}

// cutNow reports whether the power is off.
func (n *node) cutNow() bool {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	return n.isCut()
}

// Statx is refused so that the kernel asks Getattr, which knows the size
// as written.
func (n *node) Statx(context.Context, fs.FileHandle, uint32, uint32, *fuse.StatxOut) syscall.Errno {
	return syscall.ENOSYS
}

func (n *node) Allocate(context.Context, fs.FileHandle, uint64, uint64, uint32) syscall.Errno {
	return syscall.EOPNOTSUPP
}

// CopyFileRange is refused: the kernel then copies by reads and writes.
func (n *node) CopyFileRange(context.Context, fs.FileHandle, uint64, *fs.Inode, fs.FileHandle, uint64, uint64, uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

func (n *node) Tmpfile(context.Context, uint32, uint32, *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

package powerfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cruxd/cruxd/internal/testenv/powerfs"
)

func write(t *testing.T, path string, off int64, data []byte, sync bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func content(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes %.40q, want %d bytes %.40q", what, len(got), got, len(want), want)
	}
}

// pattern returns n bytes that differ from page to page.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i/1000)
	}
	return b
}

// A write survives a cut if it was fsynced, and is lost otherwise; the
// create was metadata and survives either way. Reads see the write before
// the cut.
func TestCut(t *testing.T) {
	data := pattern(10000, 'a')
	for _, c := range []struct {
		name  string
		sync  bool
		want  []byte
		pages int64 // dropped by the cut
	}{
		{"unsynced", false, nil, 3},
		{"synced", true, data, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := powerfs.NewDisk(t)
			p := d.Path("f")
			write(t, p, 0, data, c.sync)
			mustEqual(t, "before the cut", content(t, p), data)
			if lost := d.Cut(); lost["f"] != c.pages*4096 || len(lost) > 1 {
				t.Errorf("the cut dropped %v, want %d pages of f", lost, c.pages)
			}
			mustEqual(t, "after the cut", content(t, p), c.want)
		})
	}
}

// An overwrite, an append and a write past the end, none synced, are all
// undone, while reads and stat see them before the cut.
func TestUnsyncedOverwriteIsUndone(t *testing.T) {
	d := powerfs.NewDisk(t)
	p := d.Path("f")
	synced := pattern(10000, 'a')
	write(t, p, 0, synced, true)
	write(t, p, 4000, []byte("overwritten across a page boundary"), false)
	write(t, p, 10000, []byte("appended"), false)
	write(t, p, 20000, []byte("far"), false)

	want := bytes.Clone(synced)
	copy(want[4000:], "overwritten across a page boundary")
	want = append(want, "appended"...)
	want = append(want, make([]byte, 20000-len(want))...)
	want = append(want, "far"...)
	mustEqual(t, "before the cut", content(t, p), want)
	if fi, err := os.Stat(p); err != nil || fi.Size() != 20003 {
		t.Errorf("stat before the cut: %v, %v; want size 20003", fi, err)
	}
	d.Cut()
	mustEqual(t, "after the cut", content(t, p), synced)
}

// An fsync of one descriptor makes the writes of every descriptor of the
// file durable, as on Linux.
func TestSyncCoversOtherDescriptors(t *testing.T) {
	d := powerfs.NewDisk(t)
	p := d.Path("f")
	a, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.WriteAt([]byte("written by a"), 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	d.Cut()
	mustEqual(t, "after the cut", content(t, p), []byte("written by a"))
}

// Metadata goes through at once: create, rename, unlink, mkdir and
// truncate survive a cut without an fsync; renamed data keeps its state.
func TestMetadataIsDurable(t *testing.T) {
	d := powerfs.NewDisk(t)
	if err := os.Mkdir(d.Path("dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, d.Path("dir/synced"), 0, []byte("synced data"), true)
	write(t, d.Path("dir/unsynced"), 0, []byte("unsynced data"), false)
	if err := os.Rename(d.Path("dir/synced"), d.Path("moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(d.Path("dir/unsynced"), d.Path("moved-unsynced")); err != nil {
		t.Fatal(err)
	}
	write(t, d.Path("gone"), 0, []byte("x"), true)
	if err := os.Remove(d.Path("gone")); err != nil {
		t.Fatal(err)
	}
	write(t, d.Path("short"), 0, pattern(10000, 'a'), true)
	write(t, d.Path("short"), 0, []byte("unsynced"), false)
	if err := os.Truncate(d.Path("short"), 5000); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "truncated before the cut", content(t, d.Path("short")), append([]byte("unsynced"), pattern(10000, 'a')[8:5000]...))
	d.Cut()

	mustEqual(t, "renamed synced file", content(t, d.Path("moved")), []byte("synced data"))
	mustEqual(t, "renamed unsynced file", content(t, d.Path("moved-unsynced")), nil)
	mustEqual(t, "truncated file", content(t, d.Path("short")), pattern(5000, 'a'))
	for _, name := range []string{"gone", "dir/synced", "dir/unsynced"} {
		if _, err := os.Stat(d.Path(name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after the cut: %v, want it gone", name, err)
		}
	}
	if fi, err := os.Stat(d.Path("dir")); err != nil || !fi.IsDir() {
		t.Errorf("dir after the cut: %v, %v", fi, err)
	}
}

// A file created anew where an unsynced one was removed starts empty, even
// if it gets the old one's inode number.
func TestRecreatedFileStartsEmpty(t *testing.T) {
	d := powerfs.NewDisk(t)
	p := d.Path("f")
	for i := range 5 {
		write(t, p, 0, pattern(9000, byte('a'+i)), false)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		mustEqual(t, "recreated file", content(t, p), nil)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// Truncating on open drops what was written before.
func TestOpenTruncate(t *testing.T) {
	d := powerfs.NewDisk(t)
	p := d.Path("f")
	write(t, p, 0, pattern(9000, 'a'), false)
	if err := os.WriteFile(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "before the cut", content(t, p), []byte("new"))
	d.Cut()
	mustEqual(t, "after the cut", content(t, p), nil)
}

// After a cut the old mount answers nothing: a descriptor opened before
// it fails instead of writing.
func TestOpenFileDiesInCut(t *testing.T) {
	d := powerfs.NewDisk(t)
	p := d.Path("f")
	write(t, p, 0, []byte("synced"), true)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d.Cut()
	if _, err := f.WriteAt([]byte("late"), 0); err == nil {
		if err := f.Sync(); err == nil {
			t.Error("a write and fsync through a descriptor of the cut mount succeeded")
		}
	}
	mustEqual(t, "after the cut", content(t, p), []byte("synced"))
}

// mmapEnv makes the test binary a child that writes through a shared mmap.
// A child, because a page fault on a FUSE file in the process that serves
// it can stall that process's runtime.
const mmapEnv = "POWERFS_TEST_MMAP"

func TestMain(m *testing.M) {
	if spec := os.Getenv(mmapEnv); spec != "" {
		os.Exit(mmapChild(spec))
	}
	os.Exit(m.Run())
}

// mmapChild maps the file named by spec ("sync:PATH" or "nosync:PATH"),
// writes "mapped" at offset 5000, msyncs it if asked, and exits.
func mmapChild(spec string) int {
	mode, path, _ := strings.Cut(spec, ":")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 8192, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mmap:", err)
		return 1
	}
	copy(mem[5000:], "mapped")
	if mode == "sync" {
		if err := unix.Msync(mem, unix.MS_SYNC); err != nil {
			fmt.Fprintln(os.Stderr, "msync:", err)
			return 1
		}
	}
	if err := unix.Munmap(mem); err != nil {
		fmt.Fprintln(os.Stderr, "munmap:", err)
		return 1
	}
	return 0
}

// Writes through a shared mmap (as SQLite's -shm file gets them) are held
// like other writes: seen at once, lost in a cut unless msynced.
func TestSharedMmap(t *testing.T) {
	for _, mode := range []string{"nosync", "sync"} {
		t.Run(mode, func(t *testing.T) {
			d := powerfs.NewDisk(t)
			p := d.Path("f")
			write(t, p, 0, make([]byte, 8192), true)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), mmapEnv+"="+mode+":"+p)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("mmap child: %v\n%s", err, out)
			}
			want := make([]byte, 8192)
			copy(want[5000:], "mapped")
			mustEqual(t, "before the cut", content(t, p), want)
			d.Cut()
			if mode == "nosync" {
				want = make([]byte, 8192)
			}
			mustEqual(t, "after the cut", content(t, p), want)
		})
	}
}

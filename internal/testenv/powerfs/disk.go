package powerfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cruxd/cruxd/internal/testenv"
)

// Disk is a powerfs mount for one test, with a power switch.
type Disk struct {
	tb      testing.TB
	backing string
	fs      *FS
}

// NewDisk mounts powerfs over a new temporary directory and unmounts it in
// the test's cleanup. Where it cannot mount, the test fails with the mount
// error in CI (CI=true) and is skipped elsewhere.
func NewDisk(tb testing.TB) *Disk {
	tb.Helper()
	root := tb.TempDir()
	d := &Disk{tb: tb, backing: filepath.Join(root, "backing")}
	dir := filepath.Join(root, "mnt")
	for _, p := range []string{d.backing, dir} {
		if err := os.Mkdir(p, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	f, err := Mount(d.backing, dir)
	if err != nil {
		if testenv.InCI() {
			tb.Fatalf("powerfs is required in CI (CI=true) but cannot mount: %v", err)
		}
		tb.Skipf("*** SKIPPING powerfs test: %v ***", err)
	}
	d.fs = f
	// Registered after TempDir's removal, so it runs before it.
	tb.Cleanup(func() {
		if err := d.fs.Unmount(); err != nil {
			tb.Error(err)
		}
	})
	return d
}

// Dir returns the mount point.
func (d *Disk) Dir() string { return d.fs.Dir() }

// Path returns the path of name on the mount.
func (d *Disk) Path(name string) string { return filepath.Join(d.fs.Dir(), name) }

// Cut cuts the power and brings it back: every write not yet fsynced is
// lost, and a fresh mount on the same directory shows what survived. Stop
// the processes that use the disk first (SIGKILL is the power cut's
// twin); a file the test itself holds open is dead afterwards. Cut returns
// the unsynced bytes dropped, by file (see FS.Cut).
func (d *Disk) Cut() map[string]int64 {
	d.tb.Helper()
	dir := d.fs.Dir()
	lost, err := d.fs.Cut()
	if err != nil {
		d.tb.Fatalf("power cut: %v", err)
	}
	f, err := Mount(d.backing, dir)
	if err != nil {
		d.tb.Fatalf("power back: %v", err)
	}
	d.fs = f
	return lost
}

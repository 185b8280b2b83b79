package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database at path to the new file
// dst while other connections, a running cruxd among them, go on reading
// and writing: VACUUM INTO copies one read transaction's snapshot, so the
// copy holds every transaction committed before it began and none after.
// The copy is fsynced, with its directory, before Backup returns. dst must
// not exist.
func Backup(ctx context.Context, path, dst string) (err error) {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("back up %s: %w", path, err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("back up to %s: %w", dst, os.ErrExist)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("back up %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("back up %s to %s: %w", path, dst, err)
	}
	defer func() {
		if err != nil {
			os.Remove(dst) //nolint:errcheck // err is the one to report
		}
	}()
	// VACUUM INTO does not sync what it wrote: the copy is durable only
	// once the file and the directory entry naming it are.
	if err := syncPath(dst); err != nil {
		return fmt.Errorf("back up to %s: %w", dst, err)
	}
	if err := syncPath(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("back up to %s: %w", dst, err)
	}
	return nil
}

// syncPath fsyncs the file or directory at p.
func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

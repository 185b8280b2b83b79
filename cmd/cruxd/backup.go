package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/cruxd/cruxd/internal/sqlite"
)

// runBackup runs `cruxd backup [--db FILE] DEST`: a consistent copy of a
// SQLite database, taken while cruxd serves it. PostgreSQL databases are
// backed up with pg_dump (docs/deploy.md).
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "cruxd.db", "the SQLite database file to copy")
	fs.Usage = usageFunc(fs, "backup", stderr)
	pos, err := parseInterspersed(fs, args, getenv)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: cruxd backup needs one argument, the file to write (see cruxd backup --help)", errUsage)
	}
	if isPostgresURL(*db) {
		return fmt.Errorf("%w: cruxd backup copies SQLite files; back up PostgreSQL with pg_dump (docs/deploy.md)", errUsage)
	}
	if err := sqlite.Backup(ctx, *db, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", *db, pos[0])
	return nil
}

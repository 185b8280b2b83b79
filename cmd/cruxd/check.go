package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/cruxd/cruxd/internal/sqlite"
)

// maxProblemsShown bounds what check prints of a badly damaged file.
const maxProblemsShown = 20

// runCheck runs SQLite's full integrity_check on --db without writing to
// it: "ok" and nil when the file is sound, the problems and an error
// (exit 1) when it is damaged.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "cruxd.db", "the SQLite database file to check")
	fs.Usage = usageFunc(fs, "check", stderr)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if isPostgresURL(*db) {
		return fmt.Errorf("%w: check works on a SQLite file; PostgreSQL has its own tools (amcheck, pg_checksums)", errUsage)
	}
	problems, err := sqlite.Check(ctx, *db)
	if err != nil {
		return fmt.Errorf("check %s: %w", *db, err)
	}
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "%s: ok\n", *db)
		return nil
	}
	for i, p := range problems {
		if i == maxProblemsShown {
			fmt.Fprintf(stdout, "… and %d more\n", len(problems)-i)
			break
		}
		fmt.Fprintln(stdout, p)
	}
	return fmt.Errorf("%s is damaged (%d problems): restore it from a backup", *db, len(problems))
}

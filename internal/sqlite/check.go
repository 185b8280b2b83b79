package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// quickCheckTimeout bounds the check Open runs: past it Open logs that the
// check did not finish and goes on, so a very large file still starts.
const quickCheckTimeout = 30 * time.Second

// quickCheck runs PRAGMA quick_check on c, bounded by quickCheckTimeout. A
// damaged file is an error with ErrDamaged in its chain.
func quickCheck(ctx context.Context, c *sql.Conn, log *slog.Logger) error {
	cctx, cancel := context.WithTimeout(ctx, quickCheckTimeout)
	defer cancel()
	start := time.Now()
	problems, err := runCheck(cctx, c, "quick_check")
	switch {
	case err != nil && cctx.Err() != nil && ctx.Err() == nil:
		log.Warn("sqlite: quick_check did not finish in time; run `cruxd check` offline", "timeout", quickCheckTimeout)
		return nil
	case err != nil:
		if faultOf(err) == faultDamaged {
			return fmt.Errorf("%w: %w", ErrDamaged, err)
		}
		return fmt.Errorf("quick_check: %w", err)
	case len(problems) > 0:
		return fmt.Errorf("%w: quick_check: %s", ErrDamaged, strings.Join(problems, "; "))
	}
	log.Debug("sqlite: quick_check passed", "took", time.Since(start))
	return nil
}

// runCheck runs PRAGMA pragma (quick_check or integrity_check) and returns
// the problems it lists, none when the file is sound.
func runCheck(ctx context.Context, c *sql.Conn, pragma string) ([]string, error) {
	rows, err := c.QueryContext(ctx, "PRAGMA "+pragma)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	return problems, rows.Err()
}

// Check runs SQLite's full integrity_check on the database file at path
// without writing to it and returns the problems it lists, none when the
// file is sound. A file SQLite cannot read as a database is an error with
// ErrDamaged in its chain.
func Check(ctx context.Context, path string) ([]string, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	problems, err := runCheck(ctx, c, "integrity_check")
	if err != nil && faultOf(err) == faultDamaged {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return problems, err
}

// checkSchema returns an *account.SchemaError when the database records a
// migration newer than latest, the newest this binary knows, unless
// allowNewer, which only logs it.
func checkSchema(ctx context.Context, c *sql.Conn, latest int, allowNewer bool, log *slog.Logger) error {
	var newest int
	if err := c.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	if newest <= latest {
		return nil
	}
	serr := &account.SchemaError{Database: newest, Binary: latest}
	if !allowNewer {
		return serr
	}
	log.Warn("sqlite: serving a database migrated by a newer cruxd (--allow-newer-schema)", "database", newest, "binary", latest)
	return nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/testenv"
)

// TestNewerSchemaRefused: a database that records a migration newer than
// this binary's newest is refused by Open, migrating or not, with both
// versions in the error, unless AllowNewerSchema.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	s := mustOpen(t, dsn, Options{})
	newer := latestVersion() + 1
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from a newer cruxd')`, newer); err != nil {
		t.Fatal(err)
	}
	for _, opt := range []Options{{}, {NoMigrate: true}} {
		s2, err := Open(ctx, dsn, opt)
		var se *account.SchemaError
		if !errors.As(err, &se) || se.Database != newer || se.Binary != latestVersion() {
			if s2 != nil {
				s2.Close()
			}
			t.Errorf("Open(NoMigrate=%v) of a newer schema = %v, want SchemaError{%d, %d}", opt.NoMigrate, err, newer, latestVersion())
		}
	}
	mustOpen(t, dsn, Options{AllowNewerSchema: true})
}

// TestClassifyFaults: a full disk, a read-only server and an
// administrator's shutdown are EUNAVAILABLE, decided by SQLSTATE.
func TestClassifyFaults(t *testing.T) {
	for _, code := range []string{"53100", "25006", "57P01"} {
		err := classify(fmt.Errorf("commit: %w", &pgconn.PgError{Code: code}))
		if account.ErrorCode(err) != account.EUNAVAILABLE {
			t.Errorf("classify(SQLSTATE %s) = %v, want EUNAVAILABLE", code, err)
		}
	}
}

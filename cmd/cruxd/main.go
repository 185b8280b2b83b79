// Command cruxd serves the Crux password-reset and login API, and runs the
// commands that operate it: `cruxd help` lists them (docs in cli.go). Every
// flag has an environment twin: --db is CRUXD_DB.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/postgres"
	"github.com/cruxd/cruxd/internal/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one cruxd command and returns the process exit code: 0 on
// success, 2 for a bad command line, 1 for any other failure. Errors are
// one line on stderr, never a stack trace.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := "serve"
	switch {
	case len(args) > 0 && isHelp(args[0]):
		cmd, args = "help", args[1:]
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, args, stdout, stderr, getenv)
	case "migrate":
		err = runMigrate(ctx, args, stdout, stderr, getenv)
	case "backup":
		err = runBackup(ctx, args, stdout, stderr, getenv)
	case "org", "user", "purge", "import", "audit":
		err = runAdmin(ctx, cmd, args, os.Stdin, stdout, stderr, getenv)
	case "check":
		err = runCheck(ctx, args, stdout, stderr, getenv)
	case "version":
		err = runVersion(stdout)
	case "help":
		err = runHelp(ctx, args, stdout, stderr, getenv)
	default:
		err = fmt.Errorf("%w: unknown command %q ('cruxd help' lists the commands)", errUsage, cmd)
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "cruxd: %v\n", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		return 2
	case errors.As(err, new(*account.SchemaError)):
		// Not a failure to retry: this binary must not run on that schema.
		fmt.Fprintf(stderr, "cruxd: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "cruxd: %v\n", err)
		return 1
	}
}

// newLogger returns the process logger: text or JSON lines on w, from level
// up.
func newLogger(format string, w io.Writer, level slog.Level) *slog.Logger {
	opt := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opt))
	}
	return slog.New(slog.NewTextHandler(w, opt))
}

// openService opens the database --db names and returns the Service on it,
// with the settings of c.serviceConfig, the argon2id hasher and the
// password policy of --min-password-length: serve and the admin commands
// run the same Service. The caller closes the store.
func openService(ctx context.Context, c *config, obs account.Observer, log *slog.Logger) (*account.Service, account.Store, error) {
	hasher, err := password.NewHasher(password.DefaultParams)
	if err != nil {
		return nil, nil, err
	}
	policy, err := c.passwordPolicy()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	store, err := openStore(ctx, c, c.NoMigrate)
	if err != nil {
		return nil, nil, err
	}
	return account.NewService(store, hasher, policy, c.serviceConfig(obs), log), store, nil
}

// isPostgresURL reports whether --db names a PostgreSQL database rather
// than a SQLite file.
func isPostgresURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// openStore opens the database --db names: a postgres:// URL or a SQLite
// file path. Migrations are applied unless noMigrate. Its errors say what
// to do about a --db that cannot work.
func openStore(ctx context.Context, c *config, noMigrate bool) (account.Store, error) {
	if isPostgresURL(c.DB) {
		s, err := postgres.Open(ctx, c.DB, postgres.Options{
			MaxConns: int32(c.PoolSize), StatementTimeout: c.StatementTimeout, NoMigrate: noMigrate,
			AllowNewerSchema: c.AllowNewerSchema,
		})
		if account.ErrorCode(err) == account.EUNAVAILABLE {
			// One line, without the API's "try again" advice; not c.DB,
			// whose URL may carry a password.
			return nil, fmt.Errorf("cannot reach the PostgreSQL server %s: %s", redactDB(c.DB), rootCause(err))
		}
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL database: %w", err)
		}
		return s, nil
	}
	if err := checkSQLitePath(c.DB); err != nil {
		return nil, err
	}
	s, err := sqlite.OpenWith(ctx, c.DB, sqlite.Options{
		WALLimit: c.WALLimitMiB << 20, AllowNewerSchema: c.AllowNewerSchema, Logger: c.log, NoMigrate: noMigrate,
	})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", c.DB, err)
	}
	return s, nil
}

// checkSQLitePath returns why --db cannot name a SQLite file: a URL of
// another database, or a directory that does not exist.
func checkSQLitePath(db string) error {
	if isPostgresURL(db) {
		return nil
	}
	if scheme, _, ok := strings.Cut(db, "://"); ok {
		return fmt.Errorf("%w: --db %s: unsupported scheme %q: give a SQLite file path or a postgres:// URL", errUsage, redactDB(db), scheme)
	}
	if fi, err := os.Stat(filepath.Dir(db)); err != nil || !fi.IsDir() {
		return fmt.Errorf("--db %s: the directory %s does not exist: create it or choose another path", db, filepath.Dir(db))
	}
	return nil
}

// rootCause returns the first line of the innermost error that err wraps:
// what failed, without the layers that passed it on.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	line, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	return line
}

// runMigrate applies the migrations of --db and exits.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	if err := parseFlags(newFlagSet("migrate", &c, dbFlags, stderr), args, getenv); err != nil {
		return err
	}
	s, err := openStore(ctx, &c, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrations applied to %s\n", c.DB)
	return s.Close()
}

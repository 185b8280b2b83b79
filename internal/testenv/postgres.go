package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvPostgres names the environment variable with an admin DSN
// (postgres://...) of a running PostgreSQL server. When it is set,
// PostgresDSN creates its databases there instead of starting a cluster.
const EnvPostgres = "CRUXD_TEST_POSTGRES"

const (
	pgStartTimeout = 60 * time.Second
	pgStopTimeout  = 30 * time.Second
	pgDirPrefix    = "cruxd-pg-"
	pgOwnerFile    = "owner.pid"
)

// errNoPostgres marks a machine without PostgreSQL: tests skip outside CI.
var errNoPostgres = errors.New("PostgreSQL is not installed")

// PostgresDSN returns the DSN (postgres://...) of a new, empty database made
// for this test and dropped, with its connections, when the test ends.
//
// The server is the one named by CRUXD_TEST_POSTGRES or else one private
// cluster per test process, started on first use. Without PostgreSQL the test
// fails in CI and skips elsewhere.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		c, err := sharedCluster()
		if errors.Is(err, errNoPostgres) {
			unavailable(tb, "PostgreSQL", err.Error())
		}
		if err != nil {
			tb.Fatalf("testenv: start shared PostgreSQL cluster: %v", err)
		}
		admin = c.adminDSN()
	}
	dsn, err := createDatabase(admin, tb.Name())
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(func() {
		if err := dropDatabase(admin, dsn); err != nil {
			tb.Errorf("testenv: %v", err)
		}
	})
	return dsn
}

// PostgresServer is a private PostgreSQL cluster that a test may stop and
// start again, to see how code behaves while the database is away.
type PostgresServer struct {
	c   *pgCluster
	dsn string
}

// StartPostgres starts a private PostgreSQL cluster with one database in it
// and removes it when the test ends. Without PostgreSQL the test fails in CI
// and skips elsewhere.
func StartPostgres(tb testing.TB) *PostgresServer {
	tb.Helper()
	c, err := newCluster()
	if errors.Is(err, errNoPostgres) {
		unavailable(tb, "PostgreSQL", err.Error())
	}
	if err != nil {
		tb.Fatalf("testenv: start PostgreSQL cluster: %v", err)
	}
	tb.Cleanup(c.destroy)
	dsn, err := createDatabase(c.adminDSN(), tb.Name())
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	return &PostgresServer{c: c, dsn: dsn}
}

// DSN returns the DSN (postgres://...) of the database created in the
// cluster. It stays valid across Stop and Start.
func (s *PostgresServer) DSN() string { return s.dsn }

// Stop shuts the server down fast (open sessions are ended) and returns once
// its port refuses connections.
func (s *PostgresServer) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.c.stop(); err != nil {
		tb.Fatalf("testenv: stop PostgreSQL: %v", err)
	}
}

// Start starts the stopped server again on the same port and data directory
// and returns once it accepts connections.
func (s *PostgresServer) Start(tb testing.TB) {
	tb.Helper()
	if err := s.c.start(); err != nil {
		tb.Fatalf("testenv: restart PostgreSQL: %v", err)
	}
}

// shared is the per-process cluster behind PostgresDSN.
var shared struct {
	once sync.Once
	c    *pgCluster
	err  error
}

func sharedCluster() (*pgCluster, error) {
	shared.once.Do(func() { shared.c, shared.err = newCluster() })
	return shared.c, shared.err
}

// stopSharedPostgres stops the shared cluster, if one was started, and
// removes its directory.
func stopSharedPostgres() {
	if shared.c != nil {
		shared.c.destroy()
	}
}

// pgCluster is one initdb'd data directory and the postgres process
// serving it on 127.0.0.1:port.
type pgCluster struct {
	root string // temp dir: data/, the log and the unix socket
	port int
	srv  server
}

func (c *pgCluster) adminDSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// newCluster runs initdb in a new temp directory and starts postgres on a
// free port, trying other ports if the chosen one was taken meanwhile.
func newCluster() (*pgCluster, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	base := tempBase(cred != nil)
	removeStaleClusters(base)
	root, err := os.MkdirTemp(base, pgDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("make cluster dir: %w", err)
	}
	c := &pgCluster{root: root}
	if err := c.init(bin, cred); err != nil {
		_ = os.RemoveAll(root)
		return nil, err
	}
	c.srv = server{
		path:    filepath.Join(bin, "postgres"),
		dir:     root,
		cred:    cred,
		logPath: filepath.Join(root, "postgres.log"),
		stopSig: syscall.SIGINT, // fast shutdown: ends sessions, no waiting for clients
	}
	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			break
		}
		c.srv.args = []string{
			"-D", filepath.Join(root, "data"),
			"-p", strconv.Itoa(c.port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=" + root,
			"-c", "max_connections=200",
			// A throwaway test cluster needs no durability.
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
		}
		err = c.start()
		if err == nil || !errors.Is(err, errExited) || attempt == 3 {
			break
		}
	}
	if err != nil {
		_ = os.RemoveAll(root)
		return nil, err
	}
	return c, nil
}

// init writes the owner file (for removeStaleClusters) and runs initdb with
// trust authentication, as the postgres OS user when we are root.
func (c *pgCluster) init(bin string, cred *syscall.Credential) error {
	pid := []byte(strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(filepath.Join(c.root, pgOwnerFile), pid, 0o644); err != nil {
		return fmt.Errorf("write owner file: %w", err)
	}
	if cred != nil {
		if err := os.Chown(c.root, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("chown cluster dir: %w", err)
		}
	}
	cmd := exec.Command(filepath.Join(bin, "initdb"),
		"-D", filepath.Join(c.root, "data"),
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
		"--no-sync")
	cmd.Dir = c.root
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// start starts postgres and waits until it accepts an admin connection.
func (c *pgCluster) start() error {
	if err := c.srv.start(); err != nil {
		return err
	}
	dsn := c.adminDSN()
	err := waitUntil(pgStartTimeout, c.srv.exited, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
	if err != nil {
		c.srv.kill()
		return fmt.Errorf("postgres on port %d: %w\nlog %s:\n%s",
			c.port, err, c.srv.logPath, tail(c.srv.logPath, 2000))
	}
	return nil
}

// stop shuts postgres down fast and waits until its port refuses.
func (c *pgCluster) stop() error {
	if err := c.srv.stop(pgStopTimeout); err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))
	return waitUntil(pgStopTimeout, nil, func() error { return portRefuses(addr) })
}

// destroy stops postgres and removes the cluster directory.
func (c *pgCluster) destroy() {
	if err := c.srv.stop(pgStopTimeout); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
	}
	_ = os.RemoveAll(c.root)
}

// postgresBinDir finds the directory holding initdb and postgres: PATH first,
// then the newest /usr/lib/postgresql/<version>/bin (Debian keeps them there).
func postgresBinDir() (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		_, err1 := os.Stat(filepath.Join(dir, "postgres"))
		_, err2 := os.Stat(filepath.Join(dir, "initdb"))
		if err1 == nil && err2 == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w: no PostgreSQL server binaries found (install Debian's postgresql)", errNoPostgres)
}

// postgresCredential returns nil when we may run initdb ourselves, and the
// postgres OS user when we are root, since initdb refuses to run as root.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root and no postgres OS user to run the server as (install Debian's postgresql): %v", errNoPostgres, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres OS user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// tempBase returns os.TempDir, or /tmp when another user must reach the
// cluster directory and os.TempDir lies under a directory closed to others.
func tempBase(otherUser bool) string {
	base := os.TempDir()
	if !otherUser {
		return base
	}
	for dir := base; ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if dir == filepath.Dir(dir) {
			return base
		}
	}
}

// removeStaleClusters removes cluster directories whose owning test process
// is gone: without Main nobody removes the shared cluster's directory.
func removeStaleClusters(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, pgDirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, pgOwnerFile))
		if err != nil {
			continue // being set up, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

// createDatabase creates a database with a random name, derived from the
// test name for easier debugging, and returns its DSN.
func createDatabase(adminDSN, testName string) (string, error) {
	name := databaseName(testName)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL as admin: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return withDatabase(adminDSN, name)
}

// dropDatabase drops the database of dsn, ending its open sessions.
func dropDatabase(adminDSN, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL as admin to drop %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// databaseName returns "t_<test name>_<random>", at most 63 bytes of
// [a-z0-9_].
func databaseName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 40 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(randomBytes(6)))
	return b.String()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

// withDatabase returns adminDSN with its database replaced by name.
func withDatabase(adminDSN, name string) (string, error) {
	u, err := url.Parse(adminDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL, got %q", EnvPostgres, adminDSN)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

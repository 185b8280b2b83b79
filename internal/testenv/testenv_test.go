package testenv_test

import (
	"context"
	"fmt"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cruxd/cruxd/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestPostgresDSN(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var tables int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables)
	if err != nil {
		t.Fatal(err)
	}
	if tables != 1 {
		t.Errorf("new database has %d tables after one CREATE TABLE, want 1", tables)
	}
	// Each call gets its own empty database.
	other, err := pgx.Connect(ctx, testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if err := other.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("second database has %d tables, want 0", tables)
	}
}

func TestPostgresServerStopStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := testenv.StartPostgres(t)
	ping := func() error {
		conn, err := pgx.Connect(ctx, pg.DSN())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return conn.Ping(ctx)
	}
	if err := ping(); err != nil {
		t.Fatalf("fresh server: %v", err)
	}
	pg.Stop(t)
	if err := ping(); err == nil {
		t.Fatal("stopped server still answers")
	}
	pg.Start(t)
	if err := ping(); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
}

func TestMailpitSendAndRead(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	if !strings.HasPrefix(mp.SMTPURL(), "smtp://127.0.0.1:") {
		t.Errorf("SMTPURL() = %q", mp.SMTPURL())
	}
	send(t, mp, "alice@example.test", "Reset your password")

	msgs := mp.WaitMessage(t, "alice@example.test", 1, 10*time.Second)
	if len(msgs) != 1 || msgs[0].Subject != "Reset your password" || msgs[0].From != "cruxd@example.test" {
		t.Fatalf("WaitMessage = %+v", msgs)
	}
	d := mp.Message(t, msgs[0].ID)
	if !strings.Contains(d.Text, "Open the link") {
		t.Errorf("Text = %q", d.Text)
	}
	if got := d.Headers.Get("X-Cruxd-Test"); got != "yes" {
		t.Errorf("header X-Cruxd-Test = %q, want yes", got)
	}
	if got := len(mp.Messages(t)); got != 1 {
		t.Errorf("Messages() has %d messages, want 1", got)
	}
	mp.DeleteAll(t)
	if got := len(mp.Messages(t)); got != 0 {
		t.Errorf("after DeleteAll, Messages() has %d messages", got)
	}
}

func TestMailpitStopStart(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	send(t, mp, "bob@example.test", "before")
	mp.WaitMessage(t, "bob@example.test", 1, 10*time.Second)

	mp.Stop(t)
	if err := trySend(mp, "bob@example.test", "while stopped"); err == nil {
		t.Fatal("stopped Mailpit accepted mail")
	}
	mp.Start(t)
	send(t, mp, "bob@example.test", "after")
	msgs := mp.WaitMessage(t, "bob@example.test", 2, 10*time.Second)
	if len(msgs) != 2 || msgs[0].Subject != "before" || msgs[1].Subject != "after" {
		t.Fatalf("after restart WaitMessage = %+v, want the messages before and after", msgs)
	}
}

func TestChromiumPath(t *testing.T) {
	if p := testenv.ChromiumPath(t); p == "" {
		t.Fatal("empty path")
	}
}

func send(t *testing.T, mp *testenv.Mailpit, to, subject string) {
	t.Helper()
	if err := trySend(mp, to, subject); err != nil {
		t.Fatal(err)
	}
}

// trySend sends with AUTH PLAIN over plain SMTP, as the Mailpit is set up to
// accept.
func trySend(mp *testenv.Mailpit, to, subject string) error {
	body := fmt.Sprintf("From: cruxd@example.test\r\nTo: %s\r\nSubject: %s\r\nX-Cruxd-Test: yes\r\n\r\nOpen the link.\r\n", to, subject)
	auth := smtp.PlainAuth("", "user", "secret", "127.0.0.1")
	return smtp.SendMail(mp.SMTPAddr(), auth, "cruxd@example.test", []string{to}, []byte(body))
}

package mail_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/mail"
	"github.com/cruxd/cruxd/internal/testenv"
)

// templateDir writes files (name → text) into a new directory.
func templateDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCustomTemplates sends a reset mail rendered from an operator's
// templates through a real Mailpit: the replaced subject and text part are
// the operator's, the HTML part is still the embedded one, and the support
// address and product name reach both.
func TestCustomTemplates(t *testing.T) {
	mp := testenv.StartMailpit(t)
	dir := templateDir(t, map[string]string{
		"reset.subject.txt":  "{{.Product}}: your reset link\n",
		"reset.txt":          "Hi {{.FirstName}}!\nLink: {{.ResetURL}}\nValid for {{.TTL}}.\nNot you? {{.RevokeURL}}\nHelp: {{.Support}}\n",
		"invite.subject.txt": "{{.Product}}: join {{.Org}}\n",
	})
	s, err := mail.NewSMTP(mp.SMTPURL(), "Acme <id@acme.example>", mail.Look{
		PublicURL: publicURL, Product: "Acme ID", Support: "help@acme.example", TemplateDir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, account.Mail{Kind: account.MailReset, To: "ann@example.com", FirstName: "Ann", Token: token, CancelToken: cancel, TokenTTL: 10 * time.Minute, At: at})
	msgs := mp.WaitMessage(t, "ann@example.com", 1, 30*time.Second)
	d := mp.Message(t, msgs[0].ID)
	if d.Subject != "Acme ID: your reset link" {
		t.Errorf("subject %q", d.Subject)
	}
	text := strings.ReplaceAll(d.Text, "\r\n", "\n")
	for _, want := range []string{"Hi Ann!\n", "Link: " + publicURL + "/reset-password/#token=" + token, "Valid for 10 minutes.", "Help: help@acme.example"} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{"Acme ID", `href="mailto:help@acme.example"`, token} {
		if !strings.Contains(d.HTML, want) {
			t.Errorf("HTML part (embedded template) lacks %q:\n%s", want, d.HTML)
		}
	}

	send(t, s, account.Mail{Kind: account.MailInvite, To: "bob@example.com", FirstName: "Bob", Token: token, TokenTTL: 2 * time.Hour, OrgName: "Acme", At: at})
	inv := mp.Message(t, mp.WaitMessage(t, "bob@example.com", 1, 30*time.Second)[0].ID)
	if inv.Subject != "Acme ID: join Acme" {
		t.Errorf("invitation subject %q", inv.Subject)
	}
	if !strings.Contains(inv.Text, publicURL+"/accept-invite/#token="+token) {
		t.Errorf("invitation text part (embedded template) lacks its link:\n%s", inv.Text)
	}
}

// TestBrokenTemplates: a template that cannot parse, names a field that
// does not exist, or replaces no template is refused when the sender is
// made, with its file and line.
func TestBrokenTemplates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"syntax", map[string]string{"reset.txt": "Hello\n{{.Token\n"}, []string{"reset.txt", ":2"}},
		{"unknown field", map[string]string{"password_changed.html": "<p>\n{{.Tokn}}</p>"}, []string{"password_changed.html:2", "Tokn"}},
		{"misspelt file", map[string]string{"reste.txt": "x"}, []string{"reste.txt", "replaces no template"}},
		{"empty subject", map[string]string{"reset.subject.txt": "  \n"}, []string{"reset subject: empty"}},
		{"unknown field in the invitation", map[string]string{"invite.txt": "{{.ResetUrl}}"}, []string{"invite.txt", "ResetUrl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mail.NewSMTP("smtp://127.0.0.1:1025", "a@example.com", mail.Look{
				PublicURL: publicURL, Product: "Crux", TemplateDir: templateDir(t, tc.files),
			})
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := mail.NewSMTP("smtp://127.0.0.1:1025", "a@example.com", mail.Look{PublicURL: publicURL, Product: "Crux", Support: "Help <h@example.com>"}); err == nil {
		t.Error("a support address with a display name was accepted")
	}
}

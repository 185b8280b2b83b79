package mail

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	netmail "net/mail"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

// Look is what an operator brands the mails with.
type Look struct {
	PublicURL string // where users reach cruxd: every link is built from it alone
	Product   string // names the service
	Support   string // an address users may write to; none when empty
	// TemplateDir holds templates that replace the embedded ones of the
	// same name (reset.txt, reset.html, reset.subject.txt, and the same
	// for password_changed and invite); none when empty.
	TemplateDir string
}

// content renders the mails: subjects, text and HTML parts.
type content struct {
	publicURL string // without a trailing slash
	product   string
	support   string
	text      *texttemplate.Template
	html      *htmltemplate.Template
}

// rendered is one mail's subject and bodies.
type rendered struct {
	subject, text, html string
}

// data is what the templates see.
type data struct {
	Product      string
	Support      string // an e-mail address, or ""
	PublicURL    string
	FirstName    string
	To           string
	At           string // e.g. "2026-03-01 14:05:09 UTC"
	IP           string
	Device       string // e.g. "Firefox on Linux"; never the User-Agent itself
	Token        string // reset and invite only
	TTL          string // reset and invite only: the token's lifetime, e.g. "2 hours"
	ResetURL     string // reset only: account.ResetLink
	RevokeURL    string // reset only: account.RevokeLink of the cancel token
	ResetPageURL string // account.ResetPageURL
	InviteURL    string // invite only: account.InviteLink
	Org          string // invite only: the organization the person is invited to
}

func newContent(look Look) (*content, error) {
	u, err := url.Parse(look.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("public url %q: want an absolute http(s) URL without query or fragment", look.PublicURL)
	}
	c := &content{publicURL: strings.TrimRight(u.String(), "/"), product: clean(look.Product, 64)}
	if c.product == "" {
		return nil, errors.New("mail: product name is empty")
	}
	if look.Support != "" {
		a, err := netmail.ParseAddress(look.Support)
		if err != nil || a.Name != "" {
			return nil, fmt.Errorf("support address %q: want a bare e-mail address", look.Support)
		}
		c.support = a.Address
	}
	if c.text, c.html, err = parseTemplates(look.TemplateDir); err != nil {
		return nil, err
	}
	// A template that parses may still fail on the data it is given: try
	// every mail once now rather than on a user's request.
	for _, m := range []account.Mail{
		{Kind: account.MailReset, To: "someone@example.com", FirstName: "Ann", At: time.Unix(0, 0),
			Token: "G7TwCq1Vkds0DLYnfAuP", CancelToken: "G7TwCq1Vkds0DLYnfAuP", TokenTTL: account.DefaultResetTTL},
		{Kind: account.MailPasswordChanged, To: "someone@example.com", At: time.Unix(0, 0)},
		{Kind: account.MailInvite, To: "someone@example.com", FirstName: "Ann", At: time.Unix(0, 0),
			Token: "G7TwCq1Vkds0DLYnfAuP", TokenTTL: account.InvitationTTL, OrgName: "Acme"},
	} {
		if _, err := c.render(m); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parseTemplates parses the embedded templates, each replaced by the file
// of the same name in dir when there is one. A file in dir that replaces
// nothing is refused: it is a misspelt name. Errors name the file and line.
func parseTemplates(dir string) (*texttemplate.Template, *htmltemplate.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*")
	if err != nil {
		return nil, nil, err
	}
	for i, n := range names {
		names[i] = path.Base(n)
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("mail templates: %w", err)
		}
		for _, e := range entries {
			if !slices.Contains(names, e.Name()) {
				return nil, nil, fmt.Errorf("mail templates: %s replaces no template (names: %s)", filepath.Join(dir, e.Name()), strings.Join(names, ", "))
			}
		}
	}
	text := texttemplate.New("").Option("missingkey=error")
	html := htmltemplate.New("").Option("missingkey=error")
	for _, name := range names {
		src, err := templateFS.ReadFile("templates/" + name)
		if err != nil {
			return nil, nil, err
		}
		origin := "embedded " + name
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			switch {
			case err == nil:
				src, origin = b, filepath.Join(dir, name)
			case !errors.Is(err, fs.ErrNotExist):
				return nil, nil, fmt.Errorf("mail templates: %w", err)
			}
		}
		if strings.HasSuffix(name, ".html") {
			_, err = html.New(name).Parse(string(src))
		} else {
			_, err = text.New(name).Parse(string(src))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("mail template %s: %w", origin, err)
		}
	}
	return text, html, nil
}

// render returns the subject and parts of m.
func (c *content) render(m account.Mail) (*rendered, error) {
	d := data{
		Product:      c.product,
		Support:      c.support,
		PublicURL:    c.publicURL + "/",
		FirstName:    clean(m.FirstName, 64),
		To:           m.To,
		At:           m.At.UTC().Format("2006-01-02 15:04:05 UTC"),
		IP:           clean(m.Meta.IP, 64),
		Device:       device(m.Meta.UserAgent),
		ResetPageURL: account.ResetPageURL(c.publicURL),
	}
	if d.IP == "" {
		d.IP = "unknown"
	}
	r := &rendered{}
	var name string
	switch m.Kind {
	case account.MailReset:
		if m.Token == "" || m.CancelToken == "" {
			return nil, errors.New("mail: reset mail without its tokens")
		}
		if m.TokenTTL <= 0 {
			return nil, errors.New("mail: reset mail without the token's lifetime")
		}
		d.Token, d.TTL = m.Token, account.Lifetime(m.TokenTTL)
		d.ResetURL = account.ResetLink(c.publicURL, m.Token)
		d.RevokeURL = account.RevokeLink(c.publicURL, m.CancelToken)
		name = "reset"
	case account.MailPasswordChanged:
		name = "password_changed"
	case account.MailInvite:
		if m.Token == "" || m.TokenTTL <= 0 {
			return nil, errors.New("mail: invitation mail without its token or the token's lifetime")
		}
		d.Token, d.TTL = m.Token, account.Lifetime(m.TokenTTL)
		d.InviteURL = account.InviteLink(c.publicURL, m.Token)
		d.Org = clean(m.OrgName, 200)
		name = "invite"
	default:
		return nil, fmt.Errorf("mail: unknown kind %q", m.Kind)
	}
	var b strings.Builder
	if err := c.text.ExecuteTemplate(&b, name+".subject.txt", d); err != nil {
		return nil, fmt.Errorf("render %s subject: %w", name, err)
	}
	// One line, whatever the template's line breaks.
	if r.subject = clean(strings.Join(strings.Fields(b.String()), " "), 200); r.subject == "" {
		return nil, fmt.Errorf("render %s subject: empty", name)
	}
	b.Reset()
	if err := c.text.ExecuteTemplate(&b, name+".txt", d); err != nil {
		return nil, fmt.Errorf("render %s text: %w", name, err)
	}
	r.text = b.String()
	b.Reset()
	if err := c.html.ExecuteTemplate(&b, name+".html", d); err != nil {
		return nil, fmt.Errorf("render %s html: %w", name, err)
	}
	r.html = b.String()
	return r, nil
}

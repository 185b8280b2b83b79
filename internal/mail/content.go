package mail

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"

	"github.com/cruxd/cruxd/internal/account"
)

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

// content renders the mails: subjects, text and HTML parts.
type content struct {
	publicURL string // without a trailing slash
	product   string
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
	PublicURL    string
	FirstName    string
	To           string
	At           string // e.g. "2026-03-01 14:05:09 UTC"
	IP           string
	Device       string // e.g. "Firefox on Linux"; never the User-Agent itself
	Token        string // reset only
	TTL          string // reset only: the token's lifetime, e.g. "2 hours"
	ResetURL     string // reset only: account.ResetLink
	RevokeURL    string // reset only: account.RevokeLink of the cancel token
	ResetPageURL string // account.ResetPageURL
}

func newContent(publicURL, product string) (*content, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("public url %q: want an absolute http(s) URL without query or fragment", publicURL)
	}
	if product = clean(product, 64); product == "" {
		return nil, errors.New("mail: product name is empty")
	}
	text, err := texttemplate.ParseFS(templateFS, "templates/*.txt")
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	html, err := htmltemplate.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	return &content{publicURL: strings.TrimRight(u.String(), "/"), product: product, text: text, html: html}, nil
}

// render returns the subject and parts of m.
func (c *content) render(m account.Mail) (*rendered, error) {
	d := data{
		Product:      c.product,
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
		name, r.subject = "reset", "Reset your "+c.product+" password"
	case account.MailPasswordChanged:
		name, r.subject = "password_changed", "Your "+c.product+" password was changed"
	default:
		return nil, fmt.Errorf("mail: unknown kind %q", m.Kind)
	}
	var b strings.Builder
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

// Package web serves the pages a person uses in a browser:
// /forgot-password/ asks for the e-mail address of a reset,
// /reset-password/ finishes it from the link in the mail, and
// /accept-invite/ activates an invited account from the invitation link. The pages are plain HTML,
// rendered once at start, with one stylesheet and one small script, all
// embedded in the binary; the script talks to the JSON API of the same
// origin.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/password"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Options configure the pages.
type Options struct {
	// ProductName is shown at the top of every page and in its title;
	// "cruxd" when empty.
	ProductName string
	// Support is an e-mail address people may write to, shown at the foot
	// of every page; none when empty.
	Support string
	// ReturnURL is the application the person goes back to after the
	// password changed; without it the page shows no such link.
	ReturnURL string
	// MinLength is the password policy's minimum length, announced next to
	// the field and checked before the form is sent; the policy's default
	// when 0.
	MinLength int
	// LinkTTL is how long a reset link lives, told to the person once the
	// mail is on its way; not mentioned when 0.
	LinkTTL time.Duration
}

// Pages serves the reset pages and their assets. Create it with New.
type Pages struct {
	pages  map[string][]byte // path without trailing slash → rendered HTML
	assets map[string]asset  // path → file
	mux    *http.ServeMux
}

type asset struct {
	body        []byte
	contentType string
}

// Paths the pages and assets are served at.
const (
	ForgotPath = "/forgot-password/"
	ResetPath  = account.ResetPagePath
	AcceptPath = account.InvitePagePath
	AssetsPath = "/assets/"
)

// New renders the pages with opt and returns them ready to serve. The
// templates and assets are part of the binary, so a failure to render them
// is a bug and panics.
func New(opt Options) *Pages {
	if opt.ProductName == "" {
		opt.ProductName = "cruxd"
	}
	if opt.MinLength <= 0 {
		opt.MinLength = password.DefaultMinLength
	}
	tmpl := template.Must(template.ParseFS(templateFS, "templates/*.html"))
	p := &Pages{pages: map[string][]byte{}, assets: map[string]asset{}, mux: http.NewServeMux()}
	for _, pg := range []struct{ path, name, title string }{
		{ForgotPath, "forgot", "Reset your password"},
		{ResetPath, "reset", "Choose a new password"},
		{AcceptPath, "accept", "Accept your invitation"},
	} {
		var buf bytes.Buffer
		err := tmpl.ExecuteTemplate(&buf, pg.name+".html", pageData{
			Options:   opt,
			Page:      pg.name,
			Title:     pg.title,
			TTL:       account.Lifetime(opt.LinkTTL),
			InviteTTL: account.Lifetime(account.InvitationTTL),
		})
		if err != nil {
			panic(fmt.Sprintf("web: render %s: %v", pg.name, err))
		}
		p.pages[strings.TrimSuffix(pg.path, "/")] = buf.Bytes()
	}
	err := fs.WalkDir(assetFS, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(name)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		p.assets["/"+name] = asset{body: b, contentType: ct}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("web: read assets: %v", err))
	}
	p.Register(p.mux.Handle)
	p.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w.Header())
		http.NotFound(w, r)
	})
	return p
}

type pageData struct {
	Options
	Page      string // "forgot", "reset" or "accept"
	Title     string
	TTL       string // "2 hours", or "" when not told
	InviteTTL string // how long an invitation link lives
}

// Register mounts the pages and assets on a mux through its Handle method,
// e.g. p.Register(mux.Handle). Each page answers with and without its
// trailing slash.
func (p *Pages) Register(handle func(pattern string, h http.Handler)) {
	page := http.HandlerFunc(p.servePage)
	for _, pth := range []string{ForgotPath, ResetPath, AcceptPath} {
		handle(pth+"{$}", page)
		handle(strings.TrimSuffix(pth, "/"), page)
	}
	handle(AssetsPath, http.HandlerFunc(p.serveAsset))
}

// ServeHTTP serves the pages and assets; any other path is a 404.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

func (p *Pages) servePage(w http.ResponseWriter, r *http.Request) {
	body, ok := p.pages[strings.TrimSuffix(r.URL.Path, "/")]
	if !ok {
		setHeaders(w.Header())
		http.NotFound(w, r)
		return
	}
	write(w, r, "text/html; charset=utf-8", body)
}

func (p *Pages) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := p.assets[r.URL.Path]
	if !ok {
		setHeaders(w.Header())
		http.NotFound(w, r)
		return
	}
	write(w, r, a.contentType, a.body)
}

// write answers GET and HEAD with body; other methods get 405.
func write(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	h := w.Header()
	setHeaders(h)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// ContentSecurityPolicy allows only this origin's script, style and API,
// no inline code, and no framing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// setHeaders sets the security headers every response of this package
// carries. The reset token lives in the URL fragment, which browsers never
// send, but no-referrer and no-store keep the page's address and state out
// of other sites and caches all the same.
func setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

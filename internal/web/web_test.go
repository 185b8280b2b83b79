package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/cruxd/cruxd/internal/web"
)

var wantHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-store",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
}

var pagePaths = []string{"/forgot-password/", "/forgot-password", "/reset-password/", "/reset-password", "/accept-invite/", "/accept-invite"}

var assetPaths = map[string]string{
	"/assets/style.css": "text/css",
	"/assets/app.js":    "text/javascript",
	"/assets/icon.svg":  "image/svg+xml",
}

func serve(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func checkHeaders(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	for k, v := range wantHeaders {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHeaders: every page and asset, with GET and HEAD, answers 200 with
// the security headers; errors carry them too.
func TestHeaders(t *testing.T) {
	p := web.New(web.Options{})
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, path := range pagePaths {
			resp := serve(t, p, method, path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("%s %s: Content-Type %q", method, path, ct)
			}
			body := readAll(t, resp)
			if method == http.MethodHead && body != "" {
				t.Errorf("HEAD %s has a body", path)
			}
			if method == http.MethodGet && !strings.HasPrefix(body, "<!doctype html>") {
				t.Errorf("GET %s: body starts %.40q", path, body)
			}
			checkHeaders(t, method+" "+path, resp)
		}
		for path, ct := range assetPaths {
			resp := serve(t, p, method, path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, ct) {
				t.Errorf("%s %s: Content-Type %q, want %s", method, path, got, ct)
			}
			checkHeaders(t, method+" "+path, resp)
		}
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodPost, "/forgot-password/", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/assets/app.js", http.StatusMethodNotAllowed},
		{http.MethodGet, "/assets/missing.js", http.StatusNotFound},
		{http.MethodGet, "/reset-password/extra", http.StatusNotFound},
	} {
		resp := serve(t, p, c.method, c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		checkHeaders(t, c.method+" "+c.path, resp)
	}
}

// TestRegister mounts the pages on another mux the way cmd/cruxd mounts
// them on the API's.
func TestRegister(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "api 404", http.StatusNotFound) })
	web.New(web.Options{}).Register(mux.Handle)
	for _, path := range append(pagePaths, "/assets/app.js") {
		resp := serve(t, mux, http.MethodGet, path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		checkHeaders(t, path, resp)
	}
	if resp := serve(t, mux, http.MethodGet, "/elsewhere"); readAll(t, resp) != "api 404\n" {
		t.Error("the pages claimed a path that is not theirs")
	}
}

func parse(t *testing.T, p *web.Pages, path string) *html.Node {
	t.Helper()
	resp := serve(t, p, http.MethodGet, path)
	doc, err := html.Parse(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func elements(doc *html.Node, tag string) []*html.Node {
	var out []*html.Node
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
	})
	return out
}

// TestMarkupNeedsNoUnsafeInline: no inline script, no style attribute or
// element, no event handler attribute, nothing loaded from elsewhere — the
// CSP would block each of them.
func TestMarkupNeedsNoUnsafeInline(t *testing.T) {
	p := web.New(web.Options{ReturnURL: "https://app.example.com/"})
	for _, path := range []string{web.ForgotPath, web.ResetPath, web.AcceptPath} {
		doc := parse(t, p, path)
		scripts := elements(doc, "script")
		if len(scripts) != 1 {
			t.Errorf("%s: %d script elements, want 1", path, len(scripts))
		}
		for _, s := range scripts {
			if src, _ := attr(s, "src"); !strings.HasPrefix(src, "/assets/") || s.FirstChild != nil {
				t.Errorf("%s: inline or foreign script (src %q)", path, src)
			}
		}
		if n := len(elements(doc, "style")); n > 0 {
			t.Errorf("%s: %d style elements", path, n)
		}
		walk(doc, func(n *html.Node) {
			if n.Type != html.ElementNode {
				return
			}
			for _, a := range n.Attr {
				if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
					t.Errorf("%s: <%s %s=%q>", path, n.Data, a.Key, a.Val)
				}
				if (a.Key == "src" || n.Data == "link" && a.Key == "href") && !strings.HasPrefix(a.Val, "/assets/") {
					t.Errorf("%s: <%s> loads %q", path, n.Data, a.Val)
				}
			}
		})
	}
	css := readAll(t, serve(t, p, http.MethodGet, "/assets/style.css"))
	if regexp.MustCompile(`@import|url\(`).MatchString(css) {
		t.Error("style.css loads something")
	}
}

// TestAccessibleMarkup: a lang attribute, every input labelled, one h1 per
// panel before any h2, and a live region.
func TestAccessibleMarkup(t *testing.T) {
	p := web.New(web.Options{})
	for _, path := range []string{web.ForgotPath, web.ResetPath, web.AcceptPath} {
		doc := parse(t, p, path)
		if lang, _ := attr(elements(doc, "html")[0], "lang"); lang == "" {
			t.Errorf("%s: no lang attribute", path)
		}
		labelFor := map[string]bool{}
		for _, l := range elements(doc, "label") {
			if f, ok := attr(l, "for"); ok {
				labelFor[f] = true
			}
		}
		ids := map[string]bool{}
		walk(doc, func(n *html.Node) {
			if id, ok := attr(n, "id"); ok && n.Type == html.ElementNode {
				if ids[id] {
					t.Errorf("%s: duplicate id %q", path, id)
				}
				ids[id] = true
			}
		})
		inputs := elements(doc, "input")
		if len(inputs) == 0 {
			t.Errorf("%s: no inputs", path)
		}
		for _, in := range inputs {
			id, _ := attr(in, "id")
			if id == "" || !labelFor[id] {
				t.Errorf("%s: input %q has no label", path, id)
			}
			if refs, ok := attr(in, "aria-describedby"); ok {
				for _, ref := range strings.Fields(refs) {
					if !ids[ref] {
						t.Errorf("%s: input %q described by missing %q", path, id, ref)
					}
				}
			}
		}
		for _, sec := range elements(doc, "section") {
			id, _ := attr(sec, "id")
			var headings []string
			walk(sec, func(n *html.Node) {
				if n.Type == html.ElementNode && (n.Data == "h1" || n.Data == "h2" || n.Data == "h3") {
					headings = append(headings, n.Data)
				}
			})
			if len(headings) == 0 || headings[0] != "h1" || strings.Count(strings.Join(headings, " "), "h1") != 1 {
				t.Errorf("%s: panel %q headings %v, want one h1 first", path, id, headings)
			}
		}
		live := false
		walk(doc, func(n *html.Node) {
			if v, _ := attr(n, "aria-live"); v != "" && n.Type == html.ElementNode {
				live = true
			}
		})
		if !live {
			t.Errorf("%s: no aria-live region", path)
		}
	}
}

// TestStrengthMeterMarkup: the new password is described by the strength
// label, a polite live region that starts at "Too short"; the bar is drawn
// by classes and hidden from screen readers, which hear the label.
func TestStrengthMeterMarkup(t *testing.T) {
	doc := parse(t, web.New(web.Options{}), web.ResetPath)
	var input, label, bar *html.Node
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		if id, _ := attr(n, "id"); id == "password" {
			input = n
		} else if id == "password-strength" {
			label = n
		}
		if _, ok := attr(n, "data-strength"); ok {
			bar = n
		}
	})
	if input == nil || label == nil || bar == nil {
		t.Fatalf("reset page: password %v, strength label %v, bar %v", input != nil, label != nil, bar != nil)
	}
	refs, _ := attr(input, "aria-describedby")
	if !slices.Contains(strings.Fields(refs), "password-strength") {
		t.Errorf("password described by %q, want the strength label too", refs)
	}
	if v, _ := attr(label, "aria-live"); v != "polite" {
		t.Errorf("strength label aria-live %q, want polite", v)
	}
	var text strings.Builder
	walk(label, func(n *html.Node) {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
		}
	})
	if got := text.String(); got != "Password strength: Too short" {
		t.Errorf("strength label reads %q", got)
	}
	if v, _ := attr(bar, "aria-hidden"); v != "true" {
		t.Error("strength bar not hidden from screen readers")
	}
	if c, _ := attr(bar, "class"); c != "strength" {
		t.Errorf("strength bar class %q", c)
	}
}

// TestOptions: the product name, return URL, minimum length and link
// lifetime reach the pages, escaped; a script URL is not a link.
func TestOptions(t *testing.T) {
	p := web.New(web.Options{ProductName: `Acme <Shop>`, ReturnURL: "https://shop.example.com/login?a=1&b=2",
		MinLength: 12, LinkTTL: 2 * time.Hour})
	page := readAll(t, serve(t, p, http.MethodGet, web.ResetPath))
	for _, want := range []string{
		"<title>Choose a new password · Acme &lt;Shop&gt;</title>",
		`href="https://shop.example.com/login?a=1&amp;b=2"`,
		`data-min-length="12"`, `minlength="12"`, "At least 12 characters",
		"expires after 2 hours",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("reset page lacks %q", want)
		}
	}
	if strings.Contains(page, "<Shop>") {
		t.Error("product name not escaped")
	}
	forgot := readAll(t, serve(t, p, http.MethodGet, web.ForgotPath))
	if !strings.Contains(forgot, "expires in 2 hours") {
		t.Error("forgot page does not tell the link's lifetime")
	}

	plain := readAll(t, serve(t, web.New(web.Options{}), http.MethodGet, web.ResetPath))
	for _, want := range []string{"<span class=\"brand-name\">cruxd</span>", `data-min-length="15"`} {
		if !strings.Contains(plain, want) {
			t.Errorf("default reset page lacks %q", want)
		}
	}
	if strings.Contains(plain, `id="return-link"`) || strings.Contains(plain, "Back to cruxd") {
		t.Error("a return link without a return URL")
	}

	accept := readAll(t, serve(t, p, http.MethodGet, web.AcceptPath))
	for _, want := range []string{
		"<title>Accept your invitation · Acme &lt;Shop&gt;</title>", `data-page="accept"`,
		`href="https://shop.example.com/login?a=1&amp;b=2"`, `minlength="12"`, "works only for 2 hours",
	} {
		if !strings.Contains(accept, want) {
			t.Errorf("accept-invite page lacks %q", want)
		}
	}

	evil := readAll(t, serve(t, web.New(web.Options{ReturnURL: "javascript:alert(1)"}), http.MethodGet, web.ResetPath))
	if strings.Contains(evil, "javascript:") {
		t.Error("a javascript: return URL was rendered as a link")
	}
}

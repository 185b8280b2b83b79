package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cruxd/cruxd/internal/testenv"
)

// screenshotDir is git-ignored; the tests write each state of the pages
// there for a person to look at.
const screenshotDir = "testdata/screenshots"

// tab is one browser tab of a private headless Chromium.
type tab struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	problems []string // exceptions and CSP violations seen so far
}

// newTab starts Debian's chromium with a fresh profile and returns its tab.
// The browser is stopped when the test ends; exceptions and CSP violations
// the pages cause fail the test then.
func newTab(t *testing.T) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testenv.ChromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	tb := &tab{t: t, ctx: ctx}
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("browser: %s", p)
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") {
				tb.mu.Lock()
				tb.problems = append(tb.problems, m.String())
				tb.mu.Unlock()
			}
		}
	}()
	return tb
}

// requestURLs records the URL of every request the tab sends from now on,
// as it reaches the network (a fragment is no part of it); the returned
// function lists them so far.
func (b *tab) requestURLs() func() []string {
	b.t.Helper()
	var mu sync.Mutex
	var urls []string
	err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil {
			mu.Lock()
			urls = append(urls, e.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		b.t.Fatalf("listen to the network: %v", err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), urls...)
	}
}

// do runs the actions, failing the test after 30 seconds or on an error.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open loads url and waits until the panel sel is visible.
func (b *tab) open(url, panel string) {
	b.t.Helper()
	b.do("open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(panel)))
}

// waitVisible waits until the element sel is visible.
func (b *tab) waitVisible(sel string) {
	b.t.Helper()
	b.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// text returns the visible text of sel.
func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

// waitText waits until the text of sel (visible or not) contains want.
func (b *tab) waitText(sel, want string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	expr := fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||''`, sel)
	var got string
	for ctx.Err() == nil {
		got, _ = chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("%s says %q, want it to contain %q", sel, got, want)
}

// typeInto focuses sel and types s, like a person with a keyboard.
func (b *tab) typeInto(sel, s string) {
	b.t.Helper()
	b.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), s))
}

// clear empties the inputs, as selecting all and deleting would.
func (b *tab) clear(sels ...string) {
	b.t.Helper()
	for _, sel := range sels {
		eval[bool](b, fmt.Sprintf(`(el => { el.value = ''; el.dispatchEvent(new Event('input', {bubbles: true})); return true })(document.querySelector(%q))`, sel))
	}
}

// press sends keys to the focused element.
func (b *tab) press(keys string) {
	b.t.Helper()
	b.do("press", chromedp.KeyEvent(keys))
}

// focused returns the id of the focused element.
func (b *tab) focused() string {
	b.t.Helper()
	return eval[string](b, `document.activeElement ? document.activeElement.id : ''`)
}

// attr returns an attribute of the element sel, "" when absent.
func (b *tab) attr(sel, name string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q).getAttribute(%q)) || ''`, sel, name))
}

// darkMode turns the emulated prefers-color-scheme to dark or back.
func (b *tab) darkMode(on bool) {
	b.t.Helper()
	v := "light"
	if on {
		v = "dark"
	}
	b.do("color scheme", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}},
		})
		return err
	}))
}

// screenshot saves the whole page at 390 and 1280 px wide as
// testdata/screenshots/NAME-WIDTH.png, then restores the desktop width.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	for _, w := range []int64{390, 1280} {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(w, 844),
			// Let layout settle at the new width before capturing.
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := chromedp.Evaluate[bool](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`,
					chromedp.EvalAwaitPromise)(ctx, t)
				return err
			}),
		)
		var shot []byte
		if err == nil {
			shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s at %d px: %v", name, w, err)
		}
		if err := os.WriteFile(filepath.Join(screenshotDir, fmt.Sprintf("%s-%d.png", name, w)), shot, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do("restore viewport", chromedp.EmulateViewport(1280, 900))
}

// noHorizontalScroll checks the page fits a 320 px wide screen.
func (b *tab) noHorizontalScroll(what string) {
	b.t.Helper()
	b.do("narrow viewport", chromedp.EmulateViewport(320, 640))
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 320 {
		b.t.Errorf("%s: %d px wide at a 320 px viewport", what, w)
	}
	b.do("restore viewport", chromedp.EmulateViewport(1280, 900))
}

// tabTo presses Tab until the element with id has focus, failing after a
// few presses: it proves the element is reachable by keyboard.
func (b *tab) tabTo(id string) {
	b.t.Helper()
	for range 8 {
		if b.focused() == id {
			return
		}
		b.press(kb.Tab)
	}
	b.t.Fatalf("Tab never reached #%s (focus on #%s)", id, b.focused())
}

// navigateBlank leaves the page, so the next open is a fresh load, as a
// link from a mail client would be.
func navigateBlank() chromedp.Action[chromedp.Void] { return chromedp.Navigate("about:blank") }

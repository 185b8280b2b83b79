package mail

import "strings"

// device summarises a User-Agent for the victim's mail as "Firefox on
// Linux", from fixed names only, or "an unknown device". The header is the
// requester's to write: printed as it is, it would carry the attacker's
// links, line separators or bidi overrides into a mail from us.
func device(userAgent string) string {
	browser, os := pick(userAgent, browsers), pick(userAgent, systems)
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	case os != "":
		return "a browser on " + os
	}
	return "an unknown device"
}

// token maps a User-Agent substring to the name shown for it.
type token struct{ in, name string }

// browsers and systems are tried in order: the first substring found names
// it. Browsers built on another name theirs after it (Edge and Opera say
// "Chrome/", Chrome says "Safari/"), so they come first.
var (
	browsers = []token{
		{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
		{"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"Chrome/", "Chrome"}, {"CriOS/", "Chrome"}, {"Chromium/", "Chromium"},
		{"Safari/", "Safari"},
	}
	systems = []token{
		{"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Android", "Android"},
		{"CrOS", "ChromeOS"}, {"Windows", "Windows"}, {"Macintosh", "macOS"},
		{"Linux", "Linux"},
	}
)

func pick(userAgent string, ts []token) string {
	for _, t := range ts {
		if strings.Contains(userAgent, t.in) {
			return t.name
		}
	}
	return ""
}

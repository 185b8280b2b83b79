package account

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// ResetPagePath is where the reset page is served, under the public URL.
const ResetPagePath = "/reset-password/"

// ResetPageURL returns the reset page's address under publicURL.
func ResetPageURL(publicURL string) string {
	return strings.TrimRight(publicURL, "/") + ResetPagePath
}

// ResetLink returns the link that opens the reset page on token. The token
// rides in the fragment: browsers never send it to a server, so it stays out
// of access logs and Referer headers.
func ResetLink(publicURL, token string) string {
	return ResetPageURL(publicURL) + "#token=" + url.QueryEscape(token)
}

// RevokeLink returns the "this wasn't me" link of a cancel token, which
// can only cancel the request it came with; in the fragment too.
func RevokeLink(publicURL, cancel string) string {
	return ResetPageURL(publicURL) + "#revoke=" + url.QueryEscape(cancel)
}

// InvitePagePath is where the accept-invite page is served, under the
// public URL.
const InvitePagePath = "/accept-invite/"

// InviteLink returns the link that opens the accept-invite page on an
// invitation token, in the fragment like ResetLink's.
func InviteLink(publicURL, token string) string {
	return strings.TrimRight(publicURL, "/") + InvitePagePath + "#token=" + url.QueryEscape(token)
}

// Lifetime says d the way a mail or page tells a person: "2 hours",
// "30 minutes", "1 day"; "" for a d that is not positive. It rounds to the
// largest whole unit that says d exactly, else to minutes.
func Lifetime(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d <= 0:
		return ""
	case d%day == 0:
		return plural(int(d/day), "day")
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int(d.Round(time.Minute)/time.Minute), "minute")
	default:
		return plural(int(d.Round(time.Second)/time.Second), "second")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

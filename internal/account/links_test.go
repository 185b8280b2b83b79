package account_test

import (
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// The link format is read by the reset page's script (#token=, #revoke=)
// and printed by the mails and `cruxd user reset-link`: it is tested here
// once.
func TestResetLinks(t *testing.T) {
	for _, base := range []string{"https://accounts.example.com", "https://accounts.example.com/"} {
		if got, want := account.ResetPageURL(base), "https://accounts.example.com/reset-password/"; got != want {
			t.Errorf("ResetPageURL(%q) = %q, want %q", base, got, want)
		}
		if got, want := account.ResetLink(base, "G7TwCq1Vkds0DLYnfAuP"), "https://accounts.example.com/reset-password/#token=G7TwCq1Vkds0DLYnfAuP"; got != want {
			t.Errorf("ResetLink = %q, want %q", got, want)
		}
		if got, want := account.RevokeLink(base, "G7TwCq1Vkds0DLYnfAuP"), "https://accounts.example.com/reset-password/#revoke=G7TwCq1Vkds0DLYnfAuP"; got != want {
			t.Errorf("RevokeLink = %q, want %q", got, want)
		}
	}
	if got, want := account.ResetLink("https://example.com/accounts", "a+b/c"), "https://example.com/accounts/reset-password/#token=a%2Bb%2Fc"; got != want {
		t.Errorf("ResetLink keeps the path prefix and escapes the token: %q, want %q", got, want)
	}
}

func TestLifetime(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, ""},
		{-time.Hour, ""},
		{2 * time.Hour, "2 hours"},
		{time.Hour, "1 hour"},
		{10 * time.Minute, "10 minutes"},
		{90 * time.Minute, "90 minutes"},
		{time.Minute, "1 minute"},
		{30 * time.Second, "30 seconds"},
		{24 * time.Hour, "1 day"},
		{30 * 24 * time.Hour, "30 days"},
		{25 * time.Hour, "25 hours"},
	}
	for _, tt := range tests {
		if got := account.Lifetime(tt.d); got != tt.want {
			t.Errorf("Lifetime(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

package account_test

import (
	"context"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
)

// TestLoginSuccessReleasesItsAttempt: an attempt is counted as a failure
// before the hash and taken back when it succeeds, so correct logins never
// use up the failed-login budget; a full budget refuses even the right
// password.
func TestLoginSuccessReleasesItsAttempt(t *testing.T) {
	svc, _ := MustOpenService(t, account.Config{Limits: account.Limits{FailedLoginsPerUserIP: 2, FailedLoginsPerIPMinute: 2}})
	ctx := context.Background()
	m := account.Meta{IP: "192.0.2.7"}
	if _, err := svc.Login(ctx, roy, "wrong password", m); account.ErrorCode(err) != account.EUNAUTHORIZED {
		t.Fatalf("wrong password: %v", err)
	}
	for i := range 3 {
		if _, err := svc.Login(ctx, roy, "thanos_rocks", m); err != nil {
			t.Fatalf("correct login %d with one failure counted: %v", i+1, err)
		}
	}
	if _, err := svc.Login(ctx, roy, "wrong password", m); account.ErrorCode(err) != account.EUNAUTHORIZED {
		t.Fatalf("second wrong password: %v", err)
	}
	_, err := svc.Login(ctx, roy, "thanos_rocks", m)
	wantCode(t, err, account.ETHROTTLED)
}

package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// resetToken stores a reset token named name, created at created and living
// ttl.
func resetToken(t *testing.T, s account.Store, u *account.User, name string, created time.Time, ttl time.Duration) *account.ResetToken {
	t.Helper()
	rt := &account.ResetToken{Digest: account.Digest(name), UserID: u.ID, CreatedAt: created, ExpiresAt: created.Add(ttl)}
	update(t, s, func(tx account.Tx) error { return tx.CreateResetToken(context.Background(), rt) })
	return rt
}

func oneUser(t *testing.T, s account.Store) *account.User {
	t.Helper()
	f := newFixture(t, s)
	return f.user(f.org("Crux Supplier", account.Supplier), "rbreslawski@cruxsupplier.com")
}

// unknownToken names no stored reset token.
var unknownToken = &account.ResetToken{Digest: account.Digest("unknown")}

// live reports whether rt is live at now.
func live(t *testing.T, s account.Store, rt *account.ResetToken, now time.Time) bool {
	t.Helper()
	var err error
	_ = s.View(context.Background(), func(tx account.Tx) error {
		_, err = tx.LiveResetToken(context.Background(), rt.Digest, now)
		return nil
	})
	if err != nil && account.ErrorCode(err) != account.ENOTFOUND {
		t.Fatalf("LiveResetToken: %v", err)
	}
	return err == nil
}

func testResetCreateAndLive(t *testing.T, s account.Store) {
	u := oneUser(t, s)
	want := resetToken(t, s, u, "tok", t0, 2*hour)
	if want.ID == 0 {
		t.Error("CreateResetToken did not set ID")
	}
	view(t, s, func(tx account.Tx) error {
		got, err := tx.LiveResetToken(context.Background(), want.Digest, at(minute))
		if err != nil {
			return err
		}
		if got.ID != want.ID || got.UserID != u.ID || !bytes.Equal(got.Digest, want.Digest) ||
			!got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(at(2*hour)) || got.UsedAt != nil || got.RevokedAt != nil {
			t.Errorf("LiveResetToken = %+v, want %+v", *got, *want)
		}
		return nil
	})
}

func testResetConflict(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	tok := resetToken(t, s, u, "tok", t0, hour)
	err := s.Update(ctx, func(tx account.Tx) error {
		return tx.CreateResetToken(ctx, &account.ResetToken{Digest: tok.Digest, UserID: u.ID,
			CreatedAt: at(minute), ExpiresAt: at(hour)})
	})
	wantCode(t, "CreateResetToken with an existing digest", err, account.ECONFLICT)
	err = s.Update(ctx, func(tx account.Tx) error {
		return tx.CreateResetToken(ctx, &account.ResetToken{Digest: account.Digest("orphan"), UserID: u.ID + 1000,
			CreatedAt: t0, ExpiresAt: at(hour)})
	})
	wantCode(t, "CreateResetToken for an unknown user", err, account.ENOTFOUND)
}

// testResetByCancel: a token's cancel digest finds it through
// LiveResetTokenByCancel while it lives, and only there; the token's own
// digest does not, and a second token cannot reuse the cancel digest.
func testResetByCancel(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	rt := &account.ResetToken{Digest: account.Digest("tok"), CancelDigest: account.Digest("cancel"), UserID: u.ID,
		CreatedAt: t0, ExpiresAt: at(hour)}
	update(t, s, func(tx account.Tx) error { return tx.CreateResetToken(ctx, rt) })
	resetToken(t, s, u, "no cancel", t0, hour) // tokens without one coexist
	resetToken(t, s, u, "no cancel either", t0, hour)
	byCancel := func(d []byte, now time.Time) (*account.ResetToken, error) {
		var got *account.ResetToken
		err := s.View(ctx, func(tx account.Tx) (err error) {
			got, err = tx.LiveResetTokenByCancel(ctx, d, now)
			return err
		})
		return got, err
	}
	got, err := byCancel(rt.CancelDigest, at(minute))
	if err != nil {
		t.Fatalf("LiveResetTokenByCancel: %v", err)
	}
	if got.ID != rt.ID || got.UserID != u.ID || !bytes.Equal(got.Digest, rt.Digest) {
		t.Errorf("LiveResetTokenByCancel = %+v, want %+v", *got, *rt)
	}
	_, err = byCancel(rt.Digest, at(minute))
	wantCode(t, "LiveResetTokenByCancel of the reset digest", err, account.ENOTFOUND)
	_, err = byCancel(rt.CancelDigest, at(hour))
	wantCode(t, "LiveResetTokenByCancel of an expired token", err, account.ENOTFOUND)
	view(t, s, func(tx account.Tx) error {
		_, err := tx.LiveResetToken(ctx, rt.CancelDigest, at(minute))
		wantCode(t, "LiveResetToken of the cancel digest", err, account.ENOTFOUND)
		return nil
	})
	err = s.Update(ctx, func(tx account.Tx) error {
		return tx.CreateResetToken(ctx, &account.ResetToken{Digest: account.Digest("other"), CancelDigest: rt.CancelDigest,
			UserID: u.ID, CreatedAt: t0, ExpiresAt: at(hour)})
	})
	wantCode(t, "CreateResetToken with an existing cancel digest", err, account.ECONFLICT)
	update(t, s, func(tx account.Tx) error {
		_, err := tx.RevokeResetTokens(ctx, u.ID, 0, at(minute))
		return err
	})
	_, err = byCancel(rt.CancelDigest, at(2*minute))
	wantCode(t, "LiveResetTokenByCancel of a revoked token", err, account.ENOTFOUND)
}

func testResetLiveState(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	expiring := resetToken(t, s, u, "expiring", t0, hour)
	used := resetToken(t, s, u, "used", t0, hour)
	update(t, s, func(tx account.Tx) error {
		_, err := tx.ConsumeResetToken(ctx, used.Digest, at(minute))
		return err
	})
	// A second user's token, revoked with all of that user's tokens.
	f := newFixture(t, s)
	v := f.user(f.org("Other", account.Retailer), "other@example.com")
	revoked := resetToken(t, s, v, "revoked", t0, hour)
	update(t, s, func(tx account.Tx) error {
		_, err := tx.RevokeResetTokens(ctx, v.ID, 0, at(minute))
		return err
	})
	cases := []struct {
		name string
		rt   *account.ResetToken
		now  time.Time
		live bool
	}{
		{"expiring", expiring, at(hour - time.Millisecond), true},
		{"expiring", expiring, at(hour), false}, // expires_at <= now is expired
		{"expiring", expiring, at(2 * hour), false},
		{"used", used, at(2 * minute), false},
		{"revoked", revoked, at(2 * minute), false},
		{"unknown", unknownToken, at(2 * minute), false},
	}
	for _, c := range cases {
		if got := live(t, s, c.rt, c.now); got != c.live {
			t.Errorf("token %q live at t0+%v = %v, want %v", c.name, c.now.Sub(t0), got, c.live)
		}
	}
}

func testResetConsumeOnce(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	want := resetToken(t, s, u, "tok", t0, hour)
	update(t, s, func(tx account.Tx) error {
		_, err := tx.ConsumeResetToken(ctx, account.Digest("not tok"), at(minute))
		wantCode(t, "ConsumeResetToken with another digest", err, account.ENOTFOUND)
		got, err := tx.ConsumeResetToken(ctx, want.Digest, at(minute))
		if err != nil {
			return err
		}
		if got.ID != want.ID || !bytes.Equal(got.Digest, want.Digest) || got.UserID != u.ID || got.UsedAt == nil || !got.UsedAt.Equal(at(minute)) {
			t.Errorf("ConsumeResetToken = %+v, want token %d used at t0+1m", *got, want.ID)
		}
		return nil
	})
	err := s.Update(ctx, func(tx account.Tx) error {
		_, err := tx.ConsumeResetToken(ctx, want.Digest, at(2*minute))
		return err
	})
	wantCode(t, "second ConsumeResetToken", err, account.ENOTFOUND)
	if live(t, s, want, at(2*minute)) {
		t.Error("consumed token is still live")
	}
}

func testResetConsumeNotLive(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	expired := resetToken(t, s, u, "expired", t0, hour)
	revoked := resetToken(t, s, u, "revoked", t0, hour)
	update(t, s, func(tx account.Tx) error {
		_, err := tx.RevokeResetTokens(ctx, u.ID, 0, at(minute))
		return err
	})
	fresh := resetToken(t, s, u, "fresh", at(2*minute), hour)
	for _, c := range []struct {
		name string
		rt   *account.ResetToken
		now  time.Time
	}{
		{"expired", expired, at(2*minute + hour)},
		{"revoked", revoked, at(2 * minute)},
		{"unknown", unknownToken, at(2 * minute)},
		{"fresh", fresh, at(2*minute + hour)}, // expires exactly now
	} {
		err := s.Update(ctx, func(tx account.Tx) error {
			_, err := tx.ConsumeResetToken(ctx, c.rt.Digest, c.now)
			return err
		})
		wantCode(t, fmt.Sprintf("ConsumeResetToken(%s)", c.name), err, account.ENOTFOUND)
	}
}

// testResetConsumeConcurrent spends one token from 50 goroutines: exactly
// one may win.
func testResetConsumeConcurrent(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	tok := resetToken(t, s, u, "tok", t0, hour)
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx account.Tx) error {
				_, err := tx.ConsumeResetToken(ctx, tok.Digest, at(minute))
				return err
			})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch account.ErrorCode(err) {
		case "":
			wins++
		case account.ENOTFOUND:
		default:
			t.Errorf("ConsumeResetToken: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent ConsumeResetToken calls won, want exactly 1", wins, n)
	}
}

func testResetRevokeKeep(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	toks := map[string]*account.ResetToken{}
	f := newFixture(t, s)
	v := f.user(f.org("Other", account.Retailer), "other@example.com")
	// c and d share a creation time: d, created later, has the greater id
	// and counts as newer.
	toks["a"] = resetToken(t, s, u, "a", t0, hour)
	toks["b"] = resetToken(t, s, u, "b", at(minute), hour)
	toks["c"] = resetToken(t, s, u, "c", at(2*minute), hour)
	toks["d"] = resetToken(t, s, u, "d", at(2*minute), hour)
	toks["e"] = resetToken(t, s, u, "e", at(3*minute), hour)
	toks["expired"] = resetToken(t, s, u, "expired", at(-2*hour), hour) // not live: not counted
	toks["other"] = resetToken(t, s, v, "other", t0, hour)
	now := at(4 * minute)
	revoke := func(keep int) int {
		t.Helper()
		var n int
		update(t, s, func(tx account.Tx) (err error) {
			n, err = tx.RevokeResetTokens(ctx, u.ID, keep, now)
			return err
		})
		return n
	}
	if n := revoke(3); n != 2 {
		t.Errorf("RevokeResetTokens(keep=3) revoked %d, want 2", n)
	}
	for name, want := range map[string]bool{"a": false, "b": false, "c": true, "d": true, "e": true, "other": true} {
		if got := live(t, s, toks[name], now); got != want {
			t.Errorf("after keep=3: token %q live = %v, want %v", name, got, want)
		}
	}
	if n := revoke(3); n != 0 {
		t.Errorf("second RevokeResetTokens(keep=3) revoked %d, want 0", n)
	}
	if n := revoke(2); n != 1 {
		t.Errorf("RevokeResetTokens(keep=2) revoked %d, want 1", n)
	}
	if live(t, s, toks["c"], now) || !live(t, s, toks["d"], now) || !live(t, s, toks["e"], now) {
		t.Error("keep=2 did not keep exactly the newest two (d and e, d winning its tie with c by id)")
	}
	// Again a tie on created_at, broken by id.
	toks["f"] = resetToken(t, s, u, "f", at(3*minute), hour)
	if n := revoke(1); n != 2 {
		t.Errorf("RevokeResetTokens(keep=1) revoked %d, want 2", n)
	}
	if live(t, s, toks["e"], now) || !live(t, s, toks["f"], now) {
		t.Error("keep=1 with a tie on created_at did not keep the token with the greater id")
	}
}

func testResetRevokeAll(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	toks := map[string]*account.ResetToken{}
	for i := range 4 {
		toks[fmt.Sprint("t", i)] = resetToken(t, s, u, fmt.Sprint("t", i), at(time.Duration(i)*minute), hour)
	}
	var n int
	update(t, s, func(tx account.Tx) (err error) {
		n, err = tx.RevokeResetTokens(ctx, u.ID, 0, at(5*minute))
		return err
	})
	if n != 4 {
		t.Errorf("RevokeResetTokens(keep=0) revoked %d, want 4", n)
	}
	for i := range 4 {
		if live(t, s, toks[fmt.Sprint("t", i)], at(5*minute)) {
			t.Errorf("token t%d still live after keep=0", i)
		}
	}
}

func testAuthTokens(t *testing.T, s account.Store) {
	ctx := context.Background()
	u, v := newFixture(t, s).colleagues()
	for _, at := range []*account.AuthToken{
		{Digest: account.Digest("u1"), UserID: u.ID, CreatedAt: t0},
		{Digest: account.Digest("u2"), UserID: u.ID, CreatedAt: t0},
		{Digest: account.Digest("v1"), UserID: v.ID, CreatedAt: t0},
	} {
		update(t, s, func(tx account.Tx) error { return tx.CreateAuthToken(ctx, at) })
	}
	err := s.Update(ctx, func(tx account.Tx) error {
		return tx.CreateAuthToken(ctx, &account.AuthToken{Digest: account.Digest("u1"), UserID: v.ID, CreatedAt: t0})
	})
	wantCode(t, "CreateAuthToken with an existing digest", err, account.ECONFLICT)
	err = s.Update(ctx, func(tx account.Tx) error {
		return tx.CreateAuthToken(ctx, &account.AuthToken{Digest: account.Digest("x"), UserID: v.ID + 1000, CreatedAt: t0})
	})
	wantCode(t, "CreateAuthToken for an unknown user", err, account.ENOTFOUND)

	holder := func(name string) *account.User {
		t.Helper()
		var u *account.User
		var err error
		view(t, s, func(tx account.Tx) error {
			u, err = tx.UserByAuthToken(ctx, account.Digest(name), at(-time.Second))
			return nil
		})
		if err != nil {
			wantCode(t, "UserByAuthToken("+name+")", err, account.ENOTFOUND)
		}
		return u
	}
	sameUser(t, "UserByAuthToken", holder("u1"), u)
	sameUser(t, "UserByAuthToken", holder("v1"), v)
	if holder("unknown") != nil {
		t.Error("UserByAuthToken of an unknown token found a user")
	}
	update(t, s, func(tx account.Tx) error { return tx.RevokeAuthTokens(ctx, u.ID, 0, at(minute)) })
	if holder("u1") != nil || holder("u2") != nil {
		t.Error("revoked auth token still finds its user")
	}
	sameUser(t, "other user's token after RevokeAuthTokens", holder("v1"), v)

	// Expiry: a token created at or before issuedAfter is not found.
	view(t, s, func(tx account.Tx) error {
		_, err := tx.UserByAuthToken(ctx, account.Digest("v1"), t0)
		wantCode(t, "UserByAuthToken of an expired token", err, account.ENOTFOUND)
		return nil
	})

	// RevokeAuthToken revokes that one token, once.
	update(t, s, func(tx account.Tx) error {
		return tx.CreateAuthToken(ctx, &account.AuthToken{Digest: account.Digest("v2"), UserID: v.ID, CreatedAt: t0})
	})
	update(t, s, func(tx account.Tx) error { return tx.RevokeAuthToken(ctx, account.Digest("v1"), at(minute)) })
	if holder("v1") != nil {
		t.Error("RevokeAuthToken left the token live")
	}
	sameUser(t, "sibling token after RevokeAuthToken", holder("v2"), v)
	err = s.Update(ctx, func(tx account.Tx) error { return tx.RevokeAuthToken(ctx, account.Digest("v1"), at(minute)) })
	wantCode(t, "RevokeAuthToken of a revoked token", err, account.ENOTFOUND)

	checkAuthTokenSources(t, s, u, v)
}

// checkAuthTokenSources: LoggedInFrom finds a token issued to the user for
// that source after since, revoked or not, and nothing else.
func checkAuthTokenSources(t *testing.T, s account.Store, u, v *account.User) {
	t.Helper()
	ctx := context.Background()
	home, away := account.Digest("192.0.2.1"), account.Digest("198.51.100.1")
	for _, at := range []*account.AuthToken{
		{Digest: account.Digest("u-home"), UserID: u.ID, CreatedAt: t0, Source: home},
		{Digest: account.Digest("v-away"), UserID: v.ID, CreatedAt: at(hour), Source: away},
		{Digest: account.Digest("v-none"), UserID: v.ID, CreatedAt: at(hour)}, // issued before sources were kept
	} {
		update(t, s, func(tx account.Tx) error { return tx.CreateAuthToken(ctx, at) })
	}
	update(t, s, func(tx account.Tx) error { return tx.RevokeAuthTokens(ctx, u.ID, 0, at(minute)) })
	for _, tc := range []struct {
		name   string
		user   int64
		source []byte
		since  time.Time
		want   bool
	}{
		{"revoked token of that source", u.ID, home, at(-time.Second), true},
		{"token issued at since", u.ID, home, t0, false},
		{"other source", u.ID, away, at(-time.Second), false},
		{"other user's source", v.ID, home, at(-time.Second), false},
		{"its own source", v.ID, away, t0, true},
	} {
		view(t, s, func(tx account.Tx) error {
			got, err := tx.LoggedInFrom(ctx, tc.user, tc.source, tc.since)
			if err != nil || got != tc.want {
				t.Errorf("LoggedInFrom, %s = %v, %v; want %v", tc.name, got, err, tc.want)
			}
			return nil
		})
	}
}

// testAuthTokensKeepNewest: RevokeAuthTokens with keep leaves the user's
// newest keep tokens live, and of concurrent logins that each make room
// before adding theirs no more than keep+1 stay live.
func testAuthTokensKeepNewest(t *testing.T, s account.Store) {
	ctx := context.Background()
	u, v := newFixture(t, s).colleagues()
	create := func(name string, user *account.User, created time.Time) {
		t.Helper()
		update(t, s, func(tx account.Tx) error {
			return tx.CreateAuthToken(ctx, &account.AuthToken{Digest: account.Digest(name), UserID: user.ID, CreatedAt: created})
		})
	}
	live := func(names ...string) []string {
		t.Helper()
		var got []string
		view(t, s, func(tx account.Tx) error {
			for _, n := range names {
				if _, err := tx.UserByAuthToken(ctx, account.Digest(n), at(-hour)); err == nil {
					got = append(got, n)
				}
			}
			return nil
		})
		return got
	}
	for i, n := range []string{"u1", "u2", "u3", "u4"} {
		create(n, u, at(time.Duration(i)*minute))
	}
	create("v1", v, t0)
	update(t, s, func(tx account.Tx) error { return tx.RevokeAuthTokens(ctx, u.ID, 2, at(hour)) })
	if got := live("u1", "u2", "u3", "u4", "v1"); !slices.Equal(got, []string{"u3", "u4", "v1"}) {
		t.Errorf("live after keeping 2: %v, want u3 u4 v1", got)
	}

	const n, keep = 20, 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("burst%d", i)
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx account.Tx) error {
				if err := tx.RevokeAuthTokens(ctx, v.ID, keep, at(2*hour)); err != nil {
					return err
				}
				return tx.CreateAuthToken(ctx, &account.AuthToken{Digest: account.Digest(names[i]), UserID: v.ID, CreatedAt: at(2 * hour)})
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("login %d: %v", i, err)
		}
	}
	if got := live(append(names, "v1")...); len(got) != keep+1 {
		t.Errorf("%d tokens live after %d concurrent logins, want %d: %v", len(got), n, keep+1, got)
	}
}

package account_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

const invitee = "ann@cruxsupplier.com"

// loginUser logs the demo supplier in and returns its user.
func loginUser(tb testing.TB, svc *account.Service, email, pw string) *account.User {
	tb.Helper()
	sess, err := svc.Login(context.Background(), email, pw, account.Meta{IP: "127.0.0.1"})
	if err != nil {
		tb.Fatalf("login %s: %v", email, err)
	}
	return sess.User
}

func invite(tb testing.TB, svc *account.Service, by *account.User, email string, perms ...string) *account.Invited {
	tb.Helper()
	out, err := svc.Invite(context.Background(), account.NewInvite{Email: email, FirstName: " Ann ", LastName: "Lee",
		PermissionUUIDs: perms, By: by, Meta: account.Meta{IP: "203.0.113.5"}})
	if err != nil {
		tb.Fatalf("Invite(%s): %v", email, err)
	}
	return out
}

// TestInviteAndAccept: an invited user awaits confirmation with the
// permissions given, cannot log in, and becomes ACTIVE with the password
// chosen through the token, which then works once only; the audit trail
// says who invited whom with what, and that the invitation was accepted.
func TestInviteAndAccept(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustOpenService(t, account.Config{})
	inviter := loginUser(t, svc, roy, "thanos_rocks")
	view, _ := account.PermissionByName(account.PermViewOrgUsers)
	out := invite(t, svc, inviter, " Ann@CruxSupplier.com ", view.UUID, view.UUID)
	u := out.User
	if u.Email != invitee || u.FirstName != "Ann" || u.Status != account.StatusWaiting || u.OrgID != inviter.OrgID ||
		!slices.Equal(u.Permissions, []string{account.PermViewOrgUsers}) || u.PasswordHash != "" || out.Again || out.Mailed {
		t.Fatalf("invited %+v (again %v, mailed %v)", *u, out.Again, out.Mailed)
	}
	if len(out.Token) != account.ResetTokenLen {
		t.Fatalf("sandbox token %q", out.Token)
	}
	if _, err := svc.Login(ctx, invitee, goodPW, account.Meta{}); account.ErrorCode(err) != account.EUNAUTHORIZED {
		t.Fatalf("login before accepting: %v", err)
	}
	chk, err := svc.ValidateInvite(ctx, out.Token, account.Meta{})
	if err != nil || chk.Email != invitee || chk.Renewed || chk.Token != "" {
		t.Fatalf("ValidateInvite = %+v, %v", chk, err)
	}
	wantCode(t, svc.AcceptInvite(ctx, out.Token, "short", account.Meta{}), account.EINVALID)
	if err := svc.AcceptInvite(ctx, out.Token, goodPW, account.Meta{IP: "203.0.113.6"}); err != nil {
		t.Fatalf("AcceptInvite after a refused password: %v", err)
	}
	if got := loginUser(t, svc, invitee, goodPW); got.Status != account.StatusActive || got.UUID != u.UUID {
		t.Errorf("after accepting: %+v", *got)
	}
	wantCode(t, svc.AcceptInvite(ctx, out.Token, goodPW, account.Meta{}), account.ENOTFOUND)
	_, err = svc.ValidateInvite(ctx, out.Token, account.Meta{})
	wantCode(t, err, account.ENOTFOUND)

	trail, err := svc.AuditTrail(ctx, invitee, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range trail {
		actions = append(actions, e.Action)
		if strings.Contains(e.Detail, out.Token) {
			t.Errorf("audit event %s holds the token", e.Action)
		}
	}
	if !slices.Contains(actions, account.AuditInvited) || !slices.Contains(actions, account.AuditInviteAccepted) {
		t.Fatalf("audit actions %v", actions)
	}
	created := trail[slices.Index(actions, account.AuditInvited)]
	for _, want := range []string{"user " + inviter.UUID, u.UUID, inviter.Org.UUID, "[" + account.PermViewOrgUsers + "]"} {
		if !strings.Contains(created.Detail, want) {
			t.Errorf("invitation audit %q lacks %q", created.Detail, want)
		}
	}
	if created.IP != "203.0.113.5" {
		t.Errorf("invitation audit IP %q", created.IP)
	}
}

// TestInviteRefusals: the rules Invite enforces, each with its code.
func TestInviteRefusals(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustOpenService(t, account.Config{})
	inviter := loginUser(t, svc, roy, "thanos_rocks")
	if _, err := svc.CreateUser(ctx, account.NewUser{OrgName: "Crux Supplier", Email: "viewer@cruxsupplier.com",
		Password: goodPW, Perms: []string{account.PermViewOrgUsers}}); err != nil {
		t.Fatal(err)
	}
	viewer := loginUser(t, svc, "viewer@cruxsupplier.com", goodPW)
	for _, tc := range []struct {
		name  string
		in    account.NewInvite
		code  string
		field string
		msg   string
	}{
		{"no edit_org_users", account.NewInvite{Email: invitee, FirstName: "A", LastName: "L", By: viewer}, account.EFORBIDDEN, "", ""},
		{"address of another organization", account.NewInvite{Email: bailey, FirstName: "A", LastName: "L", By: inviter}, account.EINVALID, "email", account.MsgUserAlreadyExists},
		{"address of an active colleague", account.NewInvite{Email: "viewer@cruxsupplier.com", FirstName: "A", LastName: "L", By: inviter}, account.EINVALID, "email", account.MsgUserAlreadyExists},
		{"unknown permission", account.NewInvite{Email: invitee, FirstName: "A", LastName: "L", By: inviter, PermissionUUIDs: []string{"not-a-uuid"}}, account.EINVALID, "permission_uuids", `"not-a-uuid"`},
		{"malformed address", account.NewInvite{Email: "ann", FirstName: "A", LastName: "L", By: inviter}, account.EINVALID, "email", account.MsgInvalidEmail},
		{"no first name", account.NewInvite{Email: invitee, FirstName: "  ", LastName: "L", By: inviter}, account.EINVALID, "first_name", account.MsgFieldRequired},
		{"long last name", account.NewInvite{Email: invitee, FirstName: "A", LastName: strings.Repeat("x", 151), By: inviter}, account.EINVALID, "last_name", "150"},
		{"control character", account.NewInvite{Email: invitee, FirstName: "A\nB", LastName: "L", By: inviter}, account.EINVALID, "first_name", "valid name"},
		{"unknown organization", account.NewInvite{Email: invitee, FirstName: "A", LastName: "L", OrgName: "Nope"}, account.ENOTFOUND, "org", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Invite(ctx, tc.in)
			wantCode(t, err, tc.code)
			var e *account.Error
			if !errors.As(err, &e) || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("error %v: want field %q with %q", err, tc.field, tc.msg)
			}
		})
	}
	if _, err := svc.Login(ctx, invitee, goodPW, account.Meta{}); account.ErrorCode(err) != account.EUNAUTHORIZED {
		t.Errorf("a refused invitation left a user: %v", err)
	}
	trail, err := svc.AuditTrail(ctx, bailey, 0)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(trail, func(e *account.AuditEvent) bool { return e.Action == account.AuditInviteRefused }); i < 0 ||
		!strings.Contains(trail[i].Detail, inviter.UUID) {
		t.Errorf("the refusal of another organization's address is not in its audit trail: %d events", len(trail))
	}
}

// TestInviteAgain: inviting an address that awaits confirmation in the
// same organization sends a new invitation and leaves the user as it was;
// the earlier token still works.
func TestInviteAgain(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustOpenService(t, account.Config{})
	inviter := loginUser(t, svc, roy, "thanos_rocks")
	first := invite(t, svc, inviter, invitee)
	again, err := svc.Invite(ctx, account.NewInvite{Email: invitee, FirstName: "Other", LastName: "Name", By: inviter})
	if err != nil || !again.Again || again.User.UUID != first.User.UUID || again.User.FirstName != "Ann" || again.Token == first.Token {
		t.Fatalf("second Invite = %+v, %v", again, err)
	}
	if _, err := svc.ValidateInvite(ctx, first.Token, account.Meta{}); err != nil {
		t.Errorf("first token after the second invitation: %v", err)
	}
	if err := svc.AcceptInvite(ctx, again.Token, goodPW, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.ValidateInvite(ctx, first.Token, account.Meta{})
	wantCode(t, err, account.ENOTFOUND) // accepting retires every invitation
	_, err = svc.Invite(ctx, account.NewInvite{Email: invitee, FirstName: "A", LastName: "L", By: inviter})
	wantCode(t, err, account.EINVALID) // now ACTIVE
}

// TestInviteExpiry: an invitation lives InvitationTTL. Opening an expired
// one issues a fresh invitation once; the expired token never accepts.
func TestInviteExpiry(t *testing.T) {
	ctx := context.Background()
	svc, clk := MustOpenService(t, account.Config{})
	inviter := loginUser(t, svc, roy, "thanos_rocks")
	out := invite(t, svc, inviter, invitee)
	clk.Advance(account.InvitationTTL - time.Second)
	if chk, err := svc.ValidateInvite(ctx, out.Token, account.Meta{}); err != nil || chk.Renewed {
		t.Fatalf("a second before expiry: %+v, %v", chk, err)
	}
	clk.Advance(time.Second)
	wantCode(t, svc.AcceptInvite(ctx, out.Token, goodPW, account.Meta{}), account.ENOTFOUND)
	chk, err := svc.ValidateInvite(ctx, out.Token, account.Meta{})
	if err != nil || !chk.Renewed || chk.Email != invitee || len(chk.Token) != account.ResetTokenLen {
		t.Fatalf("expired: %+v, %v", chk, err)
	}
	again, err := svc.ValidateInvite(ctx, out.Token, account.Meta{})
	if err != nil || !again.Renewed || again.Token != "" {
		t.Fatalf("expired, opened again: %+v, %v", again, err)
	}
	wantCode(t, svc.AcceptInvite(ctx, out.Token, goodPW, account.Meta{}), account.ENOTFOUND)
	if err := svc.AcceptInvite(ctx, chk.Token, goodPW, account.Meta{}); err != nil {
		t.Fatalf("the fresh token: %v", err)
	}
	_, err = svc.ValidateInvite(ctx, out.Token, account.Meta{})
	wantCode(t, err, account.ENOTFOUND) // the user is ACTIVE now
}

// TestInviteDeactivated: deactivating an invited user kills its
// invitations.
func TestInviteDeactivated(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustOpenService(t, account.Config{})
	out := invite(t, svc, loginUser(t, svc, roy, "thanos_rocks"), invitee)
	if err := svc.DeactivateUser(ctx, invitee, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.ValidateInvite(ctx, out.Token, account.Meta{})
	wantCode(t, err, account.ENOTFOUND)
	wantCode(t, svc.AcceptInvite(ctx, out.Token, goodPW, account.Meta{}), account.ENOTFOUND)
}

// TestInviteMailedInProduction: in production the token is never returned;
// the outbox mints it into the mail, and it accepts.
func TestInviteMailedInProduction(t *testing.T) {
	ctx := context.Background()
	svc, _, clk, _ := newOutbox(t)
	by := loginUser(t, svc, roy, "thanos_rocks")
	out := invite(t, svc, by, invitee)
	if out.Token != "" || !out.Mailed {
		t.Fatalf("production Invite = %+v", out)
	}
	rec := &recorder{}
	deliver(t, svc, rec, 10)
	ms := rec.mails(invitee)
	if len(ms) != 1 || ms[0].Kind != account.MailInvite || len(ms[0].Token) != account.ResetTokenLen ||
		ms[0].TokenTTL != account.InvitationTTL || ms[0].OrgName != "Crux Supplier" || ms[0].FirstName != "Ann" {
		t.Fatalf("mails %+v", ms)
	}
	// Expired: opening it queues a fresh mail, once.
	clk.Advance(account.InvitationTTL)
	for range 2 {
		chk, err := svc.ValidateInvite(ctx, ms[0].Token, account.Meta{})
		if err != nil || !chk.Renewed || chk.Token != "" {
			t.Fatalf("expired in production: %+v, %v", chk, err)
		}
	}
	deliver(t, svc, rec, 10)
	ms = rec.mails(invitee)
	if len(ms) != 2 || ms[1].Token == ms[0].Token {
		t.Fatalf("after renewal: %d mails", len(ms))
	}
	if err := svc.AcceptInvite(ctx, ms[1].Token, goodPW, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	loginUser(t, svc, invitee, goodPW)
}

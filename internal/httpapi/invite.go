package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/cruxd/cruxd/internal/account"
)

// inviteUser invites a user into the caller's organization: POST {"email",
// "first_name", "last_name", "permission_uuids"?} with token auth → 201
// with the new user (as Get User shows it), CONFIRMATION WAITING; 200 when
// the address already awaited confirmation there and was invited again.
// Sandbox adds "invitation_token"; production mails it.
func (s *Server) inviteUser(w http.ResponseWriter, r *http.Request) error {
	by, err := s.authenticate(r)
	if err != nil {
		return err
	}
	b, err := decodeBody(w, r)
	if err != nil {
		return err
	}
	fe := fieldErrors{}
	email, first, last := b.str(fe, "email"), b.str(fe, "first_name"), b.str(fe, "last_name")
	perms := b.strList(fe, "permission_uuids")
	if err := fe.errIfAny(); err != nil {
		return err
	}
	out, err := s.svc.Invite(r.Context(), account.NewInvite{Email: email, FirstName: first, LastName: last,
		PermissionUUIDs: perms, By: by, Meta: s.meta(r)})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if out.Again {
		status = http.StatusOK
	}
	writeJSON(w, status, invitedResponse{userResponse: newUserResponse(out.User), InvitationToken: out.Token})
	return nil
}

type invitedResponse struct {
	userResponse
	InvitationToken string `json:"invitation_token,omitempty"` // sandbox only
}

// validateInvite is Validate Crux Invite: GET
// /organizations/accept-invite/<token>/ → 200 {"email", "token"}; 201 when
// the token had expired and a new invitation was issued; 404 otherwise.
func (s *Server) validateInvite(w http.ResponseWriter, r *http.Request) error {
	return s.invitationChecked(w, r, r.PathValue("token"))
}

// validateInviteBody is Validate Crux Invite with the token in a POST body,
// {"token"}, for the accept-invite page: the token stays out of URLs, and
// so out of proxies' access logs.
func (s *Server) validateInviteBody(w http.ResponseWriter, r *http.Request) error {
	token, err := bodyToken(w, r)
	if err != nil {
		return err
	}
	return s.invitationChecked(w, r, token)
}

func (s *Server) invitationChecked(w http.ResponseWriter, r *http.Request, token string) error {
	chk, err := s.svc.ValidateInvite(r.Context(), token, s.meta(r))
	if err != nil {
		return err
	}
	if !chk.Renewed {
		writeJSON(w, http.StatusOK, inviteCheck{Email: chk.Email, Token: token})
		return nil
	}
	writeJSON(w, http.StatusCreated, inviteCheck{Email: chk.Email, Token: chk.Token, Detail: account.MsgInvitationRenewed})
	return nil
}

type inviteCheck struct {
	Email  string `json:"email"`
	Token  string `json:"token,omitempty"`  // 201: the new token, in sandbox only
	Detail string `json:"detail,omitempty"` // 201
}

// acceptInvite is Accept Crux Invite: POST
// /organizations/accept-invite/<token>/ {"password"} → 204.
func (s *Server) acceptInvite(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(w, r)
	if err != nil {
		return err
	}
	fe := fieldErrors{}
	pw := b.str(fe, "password")
	if err := fe.errIfAny(); err != nil {
		return err
	}
	return s.accepted(w, r, r.PathValue("token"), pw)
}

// acceptInviteBody is Accept Crux Invite with the token in the body:
// POST /organizations/accept-invite/ {"token", "password"} → 204.
func (s *Server) acceptInviteBody(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(w, r)
	if err != nil {
		return err
	}
	fe := fieldErrors{}
	token, pw := b.str(fe, "token"), b.str(fe, "password")
	if err := fe.errIfAny(); err != nil {
		return err
	}
	return s.accepted(w, r, token, pw)
}

func (s *Server) accepted(w http.ResponseWriter, r *http.Request, token, password string) error {
	if err := s.svc.AcceptInvite(r.Context(), token, password, s.meta(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxListLen bounds a list field: more entries than any catalogue holds.
const maxListLen = 100

// strList returns an optional list of strings; absent or null is empty. A
// field error in fe when it is not a list of strings, or too long.
func (b body) strList(fe fieldErrors, name string) []string {
	v, ok := b[name]
	if !ok || string(v) == "null" {
		return nil
	}
	var out []string
	if err := json.Unmarshal(v, &out); err != nil {
		fe.add(name, "Expected a list of items.")
		return nil
	}
	if len(out) > maxListLen {
		fe.add(name, "Ensure this field has no more than 100 elements.")
		return nil
	}
	return out
}

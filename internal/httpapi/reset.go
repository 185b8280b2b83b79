package httpapi

import (
	"net/http"

	"github.com/cruxd/cruxd/internal/account"
)

// resetPassword is Reset Password: POST {"email"} → 200 with the token in
// sandbox, or the neutral message in production.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(w, r)
	if err != nil {
		return err
	}
	fe := fieldErrors{}
	email := b.str(fe, "email")
	if err := fe.errIfAny(); err != nil {
		return err
	}
	token, err := s.svc.RequestReset(r.Context(), email, s.meta(r))
	if err != nil {
		return err
	}
	if token == "" {
		writeJSON(w, http.StatusOK, detail{account.MsgResetLinkSent})
		return nil
	}
	writeJSON(w, http.StatusOK, struct {
		ResetToken string `json:"reset_token"`
	}{token})
	return nil
}

// validateReset is Validate Password Reset: GET ?token=T (or a JSON body)
// → 200 {"email", "token"} without spending the token.
func (s *Server) validateReset(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	if token == "" {
		var err error
		if token, err = bodyToken(w, r); err != nil {
			return err
		}
	}
	return s.validated(w, r, token)
}

// validateResetBody is Validate Password Reset with the token in a POST
// body, {"token"}, for browsers, which send no body with a GET: the token
// stays out of the URL, and so out of proxies' access logs.
func (s *Server) validateResetBody(w http.ResponseWriter, r *http.Request) error {
	token, err := bodyToken(w, r)
	if err != nil {
		return err
	}
	return s.validated(w, r, token)
}

// bodyToken returns the "token" of a JSON body.
func bodyToken(w http.ResponseWriter, r *http.Request) (string, error) {
	b, err := decodeBody(w, r)
	if err != nil {
		return "", err
	}
	fe := fieldErrors{}
	token := b.str(fe, "token")
	return token, fe.errIfAny()
}

// validated answers Validate Password Reset for token.
func (s *Server) validated(w http.ResponseWriter, r *http.Request, token string) error {
	email, err := s.svc.ValidateReset(r.Context(), token)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Email string `json:"email"`
		Token string `json:"token"`
	}{email, token})
	return nil
}

// completeReset is Create New Password: POST {"password", "token"} → 204.
func (s *Server) completeReset(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(w, r)
	if err != nil {
		return err
	}
	fe := fieldErrors{}
	password, token := b.str(fe, "password"), b.str(fe, "token")
	if err := fe.errIfAny(); err != nil {
		return err
	}
	if err := s.svc.CompleteReset(r.Context(), token, password, s.meta(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokeReset is the "this wasn't me" action: POST {"token"} → 204, every
// live reset token of the account revoked.
func (s *Server) revokeReset(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(w, r)
	if err != nil {
		return err
	}
	fe := fieldErrors{}
	token := b.str(fe, "token")
	if err := fe.errIfAny(); err != nil {
		return err
	}
	if err := s.svc.RevokeReset(r.Context(), token, s.meta(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

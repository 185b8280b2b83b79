package httpapi

import "net/http"

// routes registers the whole API.
func (s *Server) routes() {
	s.handle("/organizations/reset-password/", endpoint{http.MethodPost: s.resetPassword})
	s.handle("/organizations/complete-password/", endpoint{
		http.MethodGet:  s.validateReset,
		http.MethodPost: s.completeReset,
	})
	s.handle("/organizations/validate-password-reset/", endpoint{http.MethodPost: s.validateResetBody})
	s.handle("/organizations/revoke-password-reset/", endpoint{http.MethodPost: s.revokeReset})
	s.handle("/organizations/user-login/", endpoint{http.MethodPost: s.login})
	s.handle("/organizations/user-logout/", endpoint{http.MethodPost: s.logout})
	s.handle("/organizations/users/detail/{uuid}/", endpoint{http.MethodGet: s.userDetail})
	s.handle("/healthz", endpoint{http.MethodGet: s.healthz})
	s.handle("/readyz", endpoint{http.MethodGet: s.readyz})
	s.handle("/openapi.yaml", endpoint{http.MethodGet: s.openAPI})
	s.mux.HandleFunc("/", s.notFound)
}

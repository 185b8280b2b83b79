package httpapi

import "net/http"

// routes registers the whole API.
func (s *Server) routes() {
	s.org("reset-password/", endpoint{http.MethodPost: s.resetPassword})
	s.org("complete-password/", endpoint{
		http.MethodGet:  s.validateReset,
		http.MethodPost: s.completeReset,
	})
	s.org("validate-password-reset/", endpoint{http.MethodPost: s.validateResetBody})
	s.org("revoke-password-reset/", endpoint{http.MethodPost: s.revokeReset})
	s.org("user-login/", endpoint{http.MethodPost: s.login})
	s.org("user-logout/", endpoint{http.MethodPost: s.logout})
	s.org("users/detail/{uuid}/", endpoint{http.MethodGet: s.userDetail})
	s.org("users/", endpoint{http.MethodPost: s.inviteUser})
	s.org("accept-invite/{token}/", endpoint{
		http.MethodGet:  s.validateInvite,
		http.MethodPost: s.acceptInvite,
	})
	s.org("validate-invite/", endpoint{http.MethodPost: s.validateInviteBody})
	s.org("accept-invite/", endpoint{http.MethodPost: s.acceptInviteBody})
	s.org("", endpoint{http.MethodGet: s.orgDetails})
	s.org("all_permissions/", endpoint{http.MethodGet: s.allPermissions})
	s.org("users/all/", endpoint{http.MethodGet: s.allUsers})
	s.org("users/permissions/{uuid}/", endpoint{
		http.MethodGet:    s.userPermissions,
		http.MethodPatch:  s.addPermissions,
		http.MethodDelete: s.removePermissions,
	})
	s.org("users/deactivate/{uuid}/", endpoint{http.MethodPost: s.deactivateUser})
	s.org("users/reactivate/{uuid}/", endpoint{http.MethodPost: s.reactivateUser})
	s.handle("/healthz", endpoint{http.MethodGet: s.healthz})
	s.handle("/readyz", endpoint{http.MethodGet: s.readyz})
	s.handle("/openapi.yaml", endpoint{http.MethodGet: s.openAPI})
	s.mux.HandleFunc("/", s.notFound)
}

// orgPrefixes are the roots of the organization API: the 2018 docs' and
// the 2019 docs' /timp/ one, served alike.
var orgPrefixes = []string{"/organizations/", "/timp/organizations/"}

// org registers an organization API route, path relative to
// /organizations/, under every prefix of orgPrefixes with the same handlers.
func (s *Server) org(path string, e endpoint) {
	for _, p := range orgPrefixes {
		s.handle(p+path, e)
	}
}

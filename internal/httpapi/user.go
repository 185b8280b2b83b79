package httpapi

import (
	"net/http"
	"strings"

	"github.com/cruxd/cruxd/internal/account"
)

// login is Login: POST {"username", "password"} → 200 with an auth token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(w, r)
	if err != nil {
		return err
	}
	fe := fieldErrors{}
	username, password := b.str(fe, "username"), b.str(fe, "password")
	if err := fe.errIfAny(); err != nil {
		return err
	}
	sess, err := s.svc.Login(r.Context(), username, password, s.meta(r))
	if err != nil {
		return err
	}
	u := sess.User
	resp := loginResponse{
		AuthToken:   sess.AuthToken,
		OrgUUID:     u.Org.UUID,
		UserUUID:    u.UUID,
		OrgType:     string(u.Org.Type),
		Permissions: assignments(u),
	}
	if u.Org.Type == account.Retailer {
		resp.RetailerUUID = u.Org.UUID
	} else {
		resp.SupplierUUID = u.Org.UUID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type loginResponse struct {
	AuthToken    string                `json:"auth_token"`
	OrgUUID      string                `json:"org_uuid"`
	UserUUID     string                `json:"user_uuid"`
	RetailerUUID string                `json:"retailer_uuid"`
	SupplierUUID string                `json:"supplier_uuid"`
	OrgType      string                `json:"org_type"`
	Permissions  permissionAssignments `json:"permission_assignments"`
}

type permissionAssignments struct {
	Permissions []permissionAssignment `json:"permissions"`
	OrgUser     struct {
		UUID string `json:"uuid"`
	} `json:"org_user"`
}

type permissionAssignment struct {
	Assigned   bool       `json:"assigned"`
	Permission permission `json:"permission"`
}

type permission struct {
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Description string `json:"description"`
	Visibility  string `json:"visibility"`
	Grouping    string `json:"grouping"`
}

// assignments lists the permissions of u's organization type with what u
// holds.
func assignments(u *account.User) permissionAssignments {
	var pa permissionAssignments
	pa.OrgUser.UUID = u.UUID
	for _, p := range account.PermissionsFor(u.Org.Type) {
		pa.Permissions = append(pa.Permissions, permissionAssignment{
			Assigned:   u.Can(p.Name),
			Permission: permission(p),
		})
	}
	return pa
}

// logout revokes the request's auth token: POST with token auth → 204.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Logout(r.Context(), authToken(r), s.meta(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// userDetail is Get User: GET /organizations/users/detail/<uuid>/ with
// token auth.
func (s *Server) userDetail(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOfPath(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newUserResponse(u))
	return nil
}

// userOfPath returns the user the path's {uuid} names, as the caller may
// read it (Service.UserDetail).
func (s *Server) userOfPath(r *http.Request) (*account.User, error) {
	viewer, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	return s.svc.UserDetail(r.Context(), viewer, r.PathValue("uuid"))
}

// newUserResponse is the Crux docs' User object of u.
func newUserResponse(u *account.User) userResponse {
	return userResponse{
		UUID: u.UUID,
		Person: person{UUID: u.PersonUUID, FirstName: u.FirstName, LastName: u.LastName,
			Email: u.Email, Phone: orNull(u.Phone), JobTitle: orNull(u.JobTitle)},
		Permissions: assignments(u),
		Status:      string(u.Status),
	}
}

// orNull is s, or JSON null for "": the Crux docs show an unset phone or
// job title as null.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type userResponse struct {
	UUID        string                `json:"uuid"`
	Person      person                `json:"person"`
	Permissions permissionAssignments `json:"permission_assignments"`
	Status      string                `json:"status"`
}

type person struct {
	UUID      string  `json:"uuid"`
	FirstName string  `json:"first_name"`
	LastName  string  `json:"last_name"`
	Email     string  `json:"email"`
	Phone     *string `json:"phone"`
	JobTitle  *string `json:"job_title"`
}

// authenticate returns the user of the request's "Authorization: Token T"
// header; EUNAUTHORIZED without one.
func (s *Server) authenticate(r *http.Request) (*account.User, error) {
	return s.svc.Authenticate(r.Context(), authToken(r))
}

// authToken returns the token of an "Authorization: Token T" header, or ""
// (which no token matches).
func authToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Token") {
		return ""
	}
	return strings.TrimSpace(token)
}

package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// orgDetails is Get Organization Details: GET /organizations/ with token
// auth. cruxd creates organizations active and knows no account managers.
func (s *Server) orgDetails(w http.ResponseWriter, r *http.Request) error {
	viewer, err := s.authenticate(r)
	if err != nil {
		return err
	}
	o := viewer.Org
	created := o.CreatedAt.UTC().Format(time.RFC3339Nano)
	writeJSON(w, http.StatusOK, organization{UUID: o.UUID, Name: o.Name, OrgType: string(o.Type),
		Status: "ACTIVE", CreatedDate: created, ActiveDate: &created})
	return nil
}

type organization struct {
	UUID           string  `json:"uuid"`
	Name           string  `json:"name"`
	OrgType        string  `json:"org_type"`
	Status         string  `json:"status"`
	CreatedDate    string  `json:"created_date"`
	ActiveDate     *string `json:"active_date"`
	AccountManager *struct {
		UUID string `json:"uuid"`
	} `json:"account_manager"`
}

// allPermissions is Get All Permissions: GET /organizations/all_permissions/
// with token auth, the catalogue of the caller's organization type.
func (s *Server) allPermissions(w http.ResponseWriter, r *http.Request) error {
	viewer, err := s.authenticate(r)
	if err != nil {
		return err
	}
	ps, err := s.svc.OrgPermissions(viewer)
	if err != nil {
		return err
	}
	out := make([]permission, len(ps))
	for i, p := range ps {
		out[i] = permission(p)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// allUsers is Get All Users: GET /organizations/users/all/[?page=N] with
// token auth. The body is the docs' plain list, a page of
// account.OrgUsersPageSize users; a Link header points at the next and
// previous pages when there are any.
func (s *Server) allUsers(w http.ResponseWriter, r *http.Request) error {
	viewer, err := s.authenticate(r)
	if err != nil {
		return err
	}
	page := 1
	if q := r.URL.Query(); q.Has("page") {
		if page, err = strconv.Atoi(q.Get("page")); err != nil {
			page = 0 // DRF: not a number is an invalid page too
		}
	}
	us, more, err := s.svc.OrgUsers(r.Context(), viewer, page)
	if err != nil {
		return err
	}
	var links []string
	if more {
		links = append(links, fmt.Sprintf(`<%s?page=%d>; rel="next"`, r.URL.Path, page+1))
	}
	if page > 1 {
		links = append(links, fmt.Sprintf(`<%s?page=%d>; rel="prev"`, r.URL.Path, page-1))
	}
	for _, l := range links {
		w.Header().Add("Link", l)
	}
	out := make([]userResponse, len(us))
	for i, u := range us {
		out[i] = newUserResponse(u)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// userPermissions is Get User Permissions: GET
// /organizations/users/permissions/<uuid>/ with token auth, read as Get
// User reads.
func (s *Server) userPermissions(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOfPath(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, assignments(u))
	return nil
}

// addPermissions is Add User Permissions: PATCH with
// {"permission_uuids": [...]} → 200 with the user's permissions.
func (s *Server) addPermissions(w http.ResponseWriter, r *http.Request) error {
	return s.changePermissions(w, r, true)
}

// removePermissions is Remove User Permissions: DELETE with
// {"permission_uuids": [...]} → 200 with the user's permissions.
func (s *Server) removePermissions(w http.ResponseWriter, r *http.Request) error {
	return s.changePermissions(w, r, false)
}

func (s *Server) changePermissions(w http.ResponseWriter, r *http.Request, grant bool) error {
	actor, err := s.authenticate(r)
	if err != nil {
		return err
	}
	b, err := decodeBody(w, r)
	if err != nil {
		return err
	}
	fe := fieldErrors{}
	if v, ok := b["permission_uuids"]; !ok || string(v) == "null" {
		fe.add("permission_uuids", account.MsgFieldRequired)
	}
	uuids := b.strList(fe, "permission_uuids")
	if err := fe.errIfAny(); err != nil {
		return err
	}
	u, err := s.svc.ChangePermissions(r.Context(), actor, r.PathValue("uuid"), uuids, grant, s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, assignments(u))
	return nil
}

// deactivateUser (extension): POST /organizations/users/deactivate/<uuid>/
// with token auth → 200 with the user.
func (s *Server) deactivateUser(w http.ResponseWriter, r *http.Request) error {
	return s.setUserStatus(w, r, false)
}

// reactivateUser (extension): POST /organizations/users/reactivate/<uuid>/
// with token auth → 200 with the user.
func (s *Server) reactivateUser(w http.ResponseWriter, r *http.Request) error {
	return s.setUserStatus(w, r, true)
}

func (s *Server) setUserStatus(w http.ResponseWriter, r *http.Request, active bool) error {
	actor, err := s.authenticate(r)
	if err != nil {
		return err
	}
	u, err := s.svc.SetOrgUserStatus(r.Context(), actor, r.PathValue("uuid"), active, s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newUserResponse(u))
	return nil
}

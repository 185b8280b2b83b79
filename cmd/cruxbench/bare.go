package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// The bare server answers cruxd's routes the way a plain net/http handler
// would with no store, no hashing and no logging: it decodes the same JSON
// request and answers the same JSON. It is cruxbench's yardstick of what the
// HTTP stack and the load generator cost on this machine, and it runs as a
// separate process like cruxd does ("cruxbench bare-server").

const bareToken = "G7TwCq1Vkds0DLYnfAuP"

type barePermission struct {
	Assigned   bool `json:"assigned"`
	Permission struct {
		UUID        string `json:"uuid"`
		Name        string `json:"name"`
		DisplayName string `json:"display_name"`
		Description string `json:"description"`
		Visibility  string `json:"visibility"`
		Grouping    string `json:"grouping"`
	} `json:"permission"`
}

type bareAssignments struct {
	Permissions []barePermission `json:"permissions"`
	OrgUser     struct {
		UUID string `json:"uuid"`
	} `json:"org_user"`
}

func bareAssign(uuid string) bareAssignments {
	var a bareAssignments
	a.OrgUser.UUID = uuid
	for _, name := range []string{"view_org_users", "edit_org_users"} {
		var p barePermission
		p.Assigned = true
		p.Permission.UUID = "5b0f1c3e-2f0b-4a5e-9a51-2d1c3f7a8b01"
		p.Permission.Name = name
		p.Permission.DisplayName = "View Users"
		p.Permission.Description = "Ability to see the users in an organization"
		p.Permission.Visibility, p.Permission.Grouping = "BOTH", "ORGUSERS"
		a.Permissions = append(a.Permissions, p)
	}
	return a
}

// bareDecode reads a JSON body into v the plain way; false after answering
// the error.
func bareDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		bareJSON(w, http.StatusUnsupportedMediaType, map[string]string{"detail": "Unsupported media type"})
		return false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		bareJSON(w, http.StatusBadRequest, map[string]string{"detail": "JSON parse error"})
		return false
	}
	return true
}

func bareJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func bareHandler() http.Handler {
	const uuid = "0f6c1c52-8f0e-4b44-9d5e-1c0a6c6f3b2a"
	mux := http.NewServeMux()
	mux.HandleFunc("POST /organizations/reset-password/", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Email string `json:"email"`
		}
		if !bareDecode(w, r, &req) {
			return
		}
		if req.Email == "" {
			bareJSON(w, http.StatusBadRequest, map[string][]string{"email": {"This field is required."}})
			return
		}
		bareJSON(w, http.StatusOK, struct {
			ResetToken string `json:"reset_token"`
		}{bareToken})
	})
	mux.HandleFunc("GET /organizations/complete-password/", func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		bareJSON(w, http.StatusOK, struct {
			Email string `json:"email"`
			Token string `json:"token"`
		}{"user@bench.cruxd.test", token})
	})
	mux.HandleFunc("POST /organizations/complete-password/", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Password string `json:"password"`
			Token    string `json:"token"`
		}
		if !bareDecode(w, r, &req) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /organizations/user-login/", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		if !bareDecode(w, r, &req) {
			return
		}
		bareJSON(w, http.StatusOK, struct {
			AuthToken    string          `json:"auth_token"`
			OrgUUID      string          `json:"org_uuid"`
			UserUUID     string          `json:"user_uuid"`
			RetailerUUID string          `json:"retailer_uuid"`
			SupplierUUID string          `json:"supplier_uuid"`
			OrgType      string          `json:"org_type"`
			Permissions  bareAssignments `json:"permission_assignments"`
		}{strings.Repeat("ab", 20), uuid, uuid, "", uuid, "SUPPLIER", bareAssign(uuid)})
	})
	mux.HandleFunc("GET /organizations/users/detail/{uuid}/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Token ") {
			bareJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Invalid token."})
			return
		}
		type person struct {
			UUID      string `json:"uuid"`
			FirstName string `json:"first_name"`
			LastName  string `json:"last_name"`
			Email     string `json:"email"`
			Phone     string `json:"phone"`
			JobTitle  string `json:"job_title"`
		}
		id := r.PathValue("uuid")
		bareJSON(w, http.StatusOK, struct {
			UUID        string          `json:"uuid"`
			Person      person          `json:"person"`
			Permissions bareAssignments `json:"permission_assignments"`
			Status      string          `json:"status"`
		}{id, person{uuid, "Bench", "User", "user@bench.cruxd.test", "", ""}, bareAssign(id), "ACTIVE"})
	})
	return mux
}

// serveBare runs the bare server on a free loopback port until ctx ends,
// printing "listening on http://ADDR" like cruxd.
func serveBare(ctx context.Context, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: bareHandler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

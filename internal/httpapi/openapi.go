package httpapi

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.yaml
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3.0 document of the API, as served at
// /openapi.yaml. The end-to-end tests validate every response against it.
func OpenAPI() []byte { return openAPIDoc }

// openAPI serves the OpenAPI document.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(openAPIDoc)
	return nil
}

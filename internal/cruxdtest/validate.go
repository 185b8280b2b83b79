package cruxdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/cruxd/cruxd/internal/httpapi"
)

// ErrUndocumented is returned by ValidateResponse for a request no
// operation of the OpenAPI document matches (an unknown path, HEAD, ...).
var ErrUndocumented = errors.New("no documented operation matches the request")

// openAPI is the OpenAPI document cruxd serves, loaded once per test
// process and never changed after: safe for concurrent use.
var openAPI struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func loadOpenAPI() (*openapi3.T, routers.Router, error) {
	openAPI.once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
		if err != nil {
			openAPI.err = fmt.Errorf("load OpenAPI document: %w", err)
			return
		}
		r, err := legacy.NewRouter(doc) // validates the document
		if err != nil {
			openAPI.err = fmt.Errorf("OpenAPI document: %w", err)
			return
		}
		openAPI.doc, openAPI.router = doc, r
	})
	return openAPI.doc, openAPI.router, openAPI.err
}

// ValidateResponse checks a response (status, header, body) to req against
// cruxd's OpenAPI document: its status must be documented for the
// operation, and its headers and body must match. A path is matched with or
// without its trailing slash, as cruxd serves both; a 405 is checked
// against the path's documented 405. It returns ErrUndocumented when no
// documented operation matches req.
func ValidateResponse(req *http.Request, status int, header http.Header, body []byte) error {
	_, router, err := loadOpenAPI()
	if err != nil {
		return err
	}
	route, params, err := findRoute(router, req)
	if err != nil && status == http.StatusMethodNotAllowed {
		// The router reports an undocumented method on a templated path
		// as an unknown path: look for the path's other operations.
		route, params, err = anyOperation(router, req)
	}
	if err != nil {
		return ErrUndocumented
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// findRoute finds req's operation, trying the path with a trailing slash
// when it has none.
func findRoute(router routers.Router, req *http.Request) (*routers.Route, map[string]string, error) {
	route, params, err := router.FindRoute(req)
	if err == nil || strings.HasSuffix(req.URL.Path, "/") {
		return route, params, routeErr(err)
	}
	r2 := req.Clone(context.Background())
	r2.URL.Path += "/"
	r2.URL.RawPath = ""
	route, params, err = router.FindRoute(r2)
	return route, params, routeErr(err)
}

// anyOperation finds some documented operation of req's path: every one
// documents the 405 the path answers other methods with.
func anyOperation(router routers.Router, req *http.Request) (*routers.Route, map[string]string, error) {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		r2 := req.Clone(context.Background())
		r2.Method = m
		if route, params, err := findRoute(router, r2); err == nil {
			if route.Operation.Responses.Status(http.StatusMethodNotAllowed) == nil {
				return nil, nil, ErrUndocumented
			}
			return route, params, nil
		}
	}
	return nil, nil, ErrUndocumented
}

// routeErr turns the router's error into the routers sentinel it stands
// for, so errors.Is works on it.
func routeErr(err error) error {
	var re *routers.RouteError
	if errors.As(err, &re) {
		switch re.Reason {
		case routers.ErrMethodNotAllowed.Error():
			return routers.ErrMethodNotAllowed
		case routers.ErrPathNotFound.Error():
			return routers.ErrPathNotFound
		}
	}
	return err
}

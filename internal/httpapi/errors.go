package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/cruxd/cruxd/internal/account"
)

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[string]int{
	account.EINVALID:       http.StatusBadRequest,
	account.EUNAUTHORIZED:  http.StatusUnauthorized,
	account.EFORBIDDEN:     http.StatusForbidden,
	account.ENOTFOUND:      http.StatusNotFound,
	account.ECONFLICT:      http.StatusConflict,
	account.EUNPROCESSABLE: http.StatusUnprocessableEntity,
	account.ETHROTTLED:     http.StatusTooManyRequests,
	account.EUNAVAILABLE:   http.StatusServiceUnavailable,
	account.EINTERNAL:      http.StatusInternalServerError,
}

// requestError is a failure of the HTTP layer itself (media type, size,
// syntax, method), answered with its own status.
type requestError struct {
	status int
	detail string
	allow  string // for 405
}

func (e *requestError) Error() string { return e.detail }

// fieldErrors are DRF-style validation errors: field → messages.
type fieldErrors map[string][]string

func (f fieldErrors) Error() string { return "invalid fields" }

func (f fieldErrors) add(field, msg string) { f[field] = append(f[field], msg) }

// errorStatus returns the status an error is answered with.
func errorStatus(err error) int {
	var re *requestError
	var fe fieldErrors
	switch {
	case errors.As(err, &re):
		return re.status
	case errors.As(err, &fe):
		return http.StatusBadRequest
	}
	if s, ok := statusOf[account.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// StatusClientClosedRequest is the status (nginx's 499) a request is logged
// and counted with when its client hung up before the answer: nobody reads
// it, and it is no server error.
const StatusClientClosedRequest = 499

// clientGone reports whether err is only the request's context ending
// because its client went away.
func clientGone(r *http.Request, err error) bool {
	return errors.Is(err, context.Canceled) && r.Context().Err() != nil
}

// writeError answers err as JSON. It is the only place that turns an error
// into a response: internal errors are logged once here and shown as a
// generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r, err) {
		s.log.DebugContext(r.Context(), "client gone", "method", r.Method, "path", routeOf(r), "err", err)
		if s.metrics != nil {
			s.metrics.RequestAbandoned(r.Method, routeOf(r))
		}
		writeJSON(w, StatusClientClosedRequest, detail{"Client closed request."})
		return
	}
	status := errorStatus(err)
	h := w.Header()
	var body any
	var re *requestError
	var fe fieldErrors
	var de *account.Error
	switch {
	case errors.As(err, &re):
		if re.allow != "" {
			h.Set("Allow", re.allow)
		}
		body = detail{re.detail}
	case errors.As(err, &fe):
		body = fe
	case status == http.StatusInternalServerError || !errors.As(err, &de):
		s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", routeOf(r), "err", err)
		status = http.StatusInternalServerError
		body = detail{"A server error occurred."}
	case de.Field != "":
		body = fieldErrors{de.Field: {de.Message}}
	default:
		body = detail{de.Message}
		if status == http.StatusServiceUnavailable && !errors.Is(err, account.ErrOverloaded) {
			s.log.WarnContext(r.Context(), "store unavailable", "path", routeOf(r), "err", err)
		}
	}
	if de != nil && de.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(de.RetryAfter.Seconds())))
	}
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", "Token")
	}
	writeJSON(w, status, body)
}

// detail is DRF's {"detail": "..."} body.
type detail struct {
	Detail string `json:"detail"`
}

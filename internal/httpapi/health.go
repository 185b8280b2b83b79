package httpapi

import (
	"context"
	"net/http"
	"time"
)

// readyTimeout bounds the store check of /readyz, so that a probe gets an
// answer while the database hangs.
const readyTimeout = 2 * time.Second

type status struct {
	Status string `json:"status"`
}

// healthz answers 200 while the process serves: it touches nothing else.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, status{"ok"})
	return nil
}

// readyz answers 200 when the store answers and holds every migration, 503
// otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.svc.Ready(ctx); err != nil {
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, status{"unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, status{"ok"})
	return nil
}

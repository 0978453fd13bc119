package api

import (
	"net/http"

	"github.com/usherid/usher/internal/identity"
)

func handleGetTenantSettings(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := ids.TenantSettings(r.Context())
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, selection(r).apply(s))
	})
}

func handleUpdateTenantSettings(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p identity.Patch
		if err := readJSON(w, r, &p); err != nil {
			mgmtError(w, err)
			return
		}
		s, err := ids.UpdateTenantSettings(r.Context(), p)
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
}

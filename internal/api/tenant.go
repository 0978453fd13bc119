package api

import (
	"net/http"

	"github.com/usherid/usher/internal/identity"
)

func handleGetTenantSettings(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		s, err := ids.TenantSettings(r.Context())
		return selection(r).apply(s), err
	})
}

func handleUpdateTenantSettings(ids *identity.Service) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, p identity.Patch) (any, error) {
		return ids.UpdateTenantSettings(r.Context(), p)
	})
}

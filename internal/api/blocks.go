package api

import (
	"net/http"

	"github.com/usherid/usher/internal/identity"
)

func handleGetUserBlocks(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		blocks, err := ids.UserBlocks(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		out := make([]map[string]string, 0, len(blocks))
		for _, b := range blocks {
			out = append(out, map[string]string{"identifier": b.UserID, "ip": b.IP})
		}
		return map[string]any{"blocked_for": out}, nil
	})
}

func handleDeleteUserBlocks(ids *identity.Service) http.Handler {
	return deleted(ids.UnblockUser)
}

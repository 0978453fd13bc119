package api

import (
	"net/http"

	"github.com/usherid/usher/internal/identity"
)

func handleListResourceServers(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		pg, err := readPaging(r, 50)
		if err != nil {
			return nil, err
		}
		all := ids.ResourceServers()
		from, to := pg.window(len(all))
		items := selection(r).applyAll(toAny(all[from:to], func(rs identity.ResourceServer) any { return rs }))
		if !pg.IncludeTotals {
			return items, nil
		}
		return map[string]any{"start": from, "limit": pg.PerPage, "total": len(all), "resource_servers": items}, nil
	})
}

func handleGetResourceServer(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		rs, err := ids.ResourceServer(r.PathValue("id"))
		return selection(r).apply(rs), err
	})
}

func handleCreateResourceServer(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) { return nil, ids.CreateResourceServer() })
}

// handleChangeResourceServer refuses an update or a delete.
func handleChangeResourceServer(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) { return nil, ids.UpdateResourceServer(r.PathValue("id")) })
}

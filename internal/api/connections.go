package api

import (
	"net/http"
	"slices"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// showConnection hides options from a token without read:connections_options, as Auth0 does.
func showConnection(r *http.Request) func(identity.Connection) any {
	withOptions := claimsFrom(r.Context()).HasAnyScope("read:connections_options")
	return func(c identity.Connection) any {
		if !withOptions {
			c.Options = nil
		}
		return selection(r).apply(c)
	}
}

func handleCreateConnection(ids *identity.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, p identity.Patch) (any, error) {
		return ids.CreateConnection(r.Context(), p)
	})
}

func handleGetConnection(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		c, err := ids.Connection(r.Context(), r.PathValue("id"))
		return showConnection(r)(c), err
	})
}

// handleListConnections answers both of Auth0's paging forms: offset
// (page, per_page, include_totals) and checkpoint (from, take → {connections, next}).
func handleListConnections(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		q := r.URL.Query()
		all, err := ids.Connections(r.Context())
		if err != nil {
			return nil, err
		}
		var matched []identity.Connection
		for _, c := range all {
			if s := q["strategy"]; len(s) > 0 && !slices.Contains(s, c.Strategy) {
				continue
			}
			if name := q.Get("name"); name != "" && c.Name != name {
				continue
			}
			matched = append(matched, c)
		}
		show := showConnection(r)
		if page, next, asked, err := checkpoint(r, matched, func(c identity.Connection) string { return c.ID }); asked {
			return checkpointBody("connections", toAny(page, show), next), err
		}
		pg, err := readPaging(r, 50)
		if err != nil {
			return nil, err
		}
		from, to := pg.window(len(matched))
		items := toAny(matched[from:to], show)
		if !pg.IncludeTotals {
			return items, nil
		}
		return map[string]any{"start": from, "limit": pg.PerPage, "total": len(matched), "connections": items}, nil
	})
}

func handleUpdateConnection(ids *identity.Service) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, p identity.Patch) (any, error) {
		if _, ok := p["options"]; ok && !claimsFrom(r.Context()).HasAnyScope("update:connections_options") {
			return nil, errs.Denied("insufficient_scope", "Insufficient scope, expected any of: update:connections_options")
		}
		c, err := ids.UpdateConnection(r.Context(), r.PathValue("id"), p)
		return showConnection(r)(c), err
	})
}

func handleDeleteConnection(ids *identity.Service) http.Handler {
	return deleted(ids.DeleteConnection)
}

// handleConnectionClients lists the clients enabled for a connection,
// checkpoint-paged: {clients: [{client_id}], next}.
func handleConnectionClients(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		enabled, err := ids.ConnectionClients(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		page, next, asked, err := checkpoint(r, enabled, func(id string) string { return id })
		if err != nil {
			return nil, err
		} else if !asked {
			page = enabled
		}
		return checkpointBody("clients", toAny(page, func(id string) any { return map[string]string{"client_id": id} }), next), nil
	})
}

// handleSetConnectionClients enables and disables clients for a connection:
// [{client_id, status}], answered with 204.
func handleSetConnectionClients(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var changes []identity.ClientStatus
		if err := readJSON(w, r, &changes); err != nil {
			mgmtError(w, err)
			return
		}
		if err := ids.SetConnectionClients(r.Context(), r.PathValue("id"), changes); err != nil {
			mgmtError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

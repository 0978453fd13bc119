package api

import (
	"net/http"
	"slices"

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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p identity.Patch
		if err := readJSON(w, r, &p); err != nil {
			mgmtError(w, err)
			return
		}
		c, err := ids.CreateConnection(r.Context(), p)
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, c)
	})
}

func handleGetConnection(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ids.Connection(r.Context(), r.PathValue("id"))
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, showConnection(r)(c))
	})
}

// handleListConnections answers both of Auth0's paging forms: offset
// (page, per_page, include_totals) and checkpoint (from, take → {connections, next}).
func handleListConnections(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		all, err := ids.Connections(r.Context())
		if err != nil {
			mgmtError(w, err)
			return
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
			if err != nil {
				mgmtError(w, err)
				return
			}
			writeCheckpoint(w, "connections", toAny(page, show), next)
			return
		}
		pg, err := readPaging(r, 50)
		if err != nil {
			mgmtError(w, err)
			return
		}
		from, to := pg.window(len(matched))
		items := toAny(matched[from:to], show)
		if !pg.IncludeTotals {
			writeJSON(w, http.StatusOK, items)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"start": from, "limit": pg.PerPage, "total": len(matched), "connections": items})
	})
}

func handleUpdateConnection(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p identity.Patch
		if err := readJSON(w, r, &p); err != nil {
			mgmtError(w, err)
			return
		}
		if _, ok := p["options"]; ok && !claimsFrom(r.Context()).HasAnyScope("update:connections_options") {
			writeMgmtError(w, http.StatusForbidden, "insufficient_scope", "Insufficient scope, expected any of: update:connections_options")
			return
		}
		c, err := ids.UpdateConnection(r.Context(), r.PathValue("id"), p)
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, showConnection(r)(c))
	})
}

func handleDeleteConnection(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ids.DeleteConnection(r.Context(), r.PathValue("id")); err != nil {
			mgmtError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

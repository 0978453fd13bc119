package api

import (
	"net/http"
	"strconv"

	"github.com/usherid/usher/internal/identity"
)

// clientWithSecret is a client as shown right after its secret was made.
type clientWithSecret struct {
	identity.Client
	ClientSecret string `json:"client_secret"`
}

func handleCreateClient(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p identity.Patch
		if err := readJSON(w, r, &p); err != nil {
			mgmtError(w, err)
			return
		}
		c, secret, err := ids.CreateClient(r.Context(), p)
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, clientWithSecret{c, secret})
	})
}

func handleRotateSecret(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, secret, err := ids.RotateClientSecret(r.Context(), r.PathValue("id"))
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, clientWithSecret{c, secret})
	})
}

func handleGetClient(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ids.Client(r.Context(), r.PathValue("id"))
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, selection(r).apply(c))
	})
}

func handleListClients(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pg, err := readPaging(r, 50)
		if err != nil {
			mgmtError(w, err)
			return
		}
		all, err := ids.Clients(r.Context())
		if err != nil {
			mgmtError(w, err)
			return
		}
		q := r.URL.Query()
		var matched []identity.Client
		for _, c := range all {
			if appType := q.Get("app_type"); appType != "" && c.AppType != appType {
				continue
			}
			if fp := q.Get("is_first_party"); fp != "" && strconv.FormatBool(c.IsFirstParty) != fp {
				continue
			}
			matched = append(matched, c)
		}
		from, to := pg.window(len(matched))
		items := selection(r).applyAll(toAny(matched[from:to], func(c identity.Client) any { return c }))
		if !pg.IncludeTotals {
			writeJSON(w, http.StatusOK, items)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"start": from, "limit": pg.PerPage, "total": len(matched), "clients": items})
	})
}

func handleUpdateClient(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p identity.Patch
		if err := readJSON(w, r, &p); err != nil {
			mgmtError(w, err)
			return
		}
		c, err := ids.UpdateClient(r.Context(), r.PathValue("id"), p)
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
}

func handleDeleteClient(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ids.DeleteClient(r.Context(), r.PathValue("id")); err != nil {
			mgmtError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleCreateGrant(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in identity.NewClientGrant
		if err := readJSON(w, r, &in); err != nil {
			mgmtError(w, err)
			return
		}
		g, err := ids.CreateClientGrant(r.Context(), in)
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, g)
	})
}

func handleListGrants(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pg, err := readPaging(r, 50)
		if err != nil {
			mgmtError(w, err)
			return
		}
		grants, err := ids.ClientGrants(r.Context(), r.URL.Query().Get("client_id"), r.URL.Query().Get("audience"))
		if err != nil {
			mgmtError(w, err)
			return
		}
		if page, next, asked, err := checkpoint(r, grants, func(g identity.ClientGrant) string { return g.ID }); asked {
			if err != nil {
				mgmtError(w, err)
				return
			}
			writeCheckpoint(w, "client_grants", toAny(page, func(g identity.ClientGrant) any { return g }), next)
			return
		}
		from, to := pg.window(len(grants))
		items := grants[from:to]
		if !pg.IncludeTotals {
			writeJSON(w, http.StatusOK, items)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"start": from, "limit": pg.PerPage, "total": len(grants), "client_grants": items})
	})
}

func handleUpdateGrant(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p identity.ClientGrantPatch
		if err := readJSON(w, r, &p); err != nil {
			mgmtError(w, err)
			return
		}
		g, err := ids.UpdateClientGrant(r.Context(), r.PathValue("id"), p)
		if err != nil {
			mgmtError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, g)
	})
}

func handleDeleteGrant(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ids.DeleteClientGrant(r.Context(), r.PathValue("id")); err != nil {
			mgmtError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

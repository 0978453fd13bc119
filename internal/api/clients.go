package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// clientWithSecret is a client as shown right after its secret was made.
type clientWithSecret struct {
	identity.Client
	ClientSecret string `json:"client_secret"`
}

func handleCreateClient(ids *identity.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, p identity.Patch) (any, error) {
		c, secret, err := ids.CreateClient(r.Context(), p)
		return clientWithSecret{c, secret}, err
	})
}

func handleRotateSecret(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		c, secret, err := ids.RotateClientSecret(r.Context(), r.PathValue("id"))
		return clientWithSecret{c, secret}, err
	})
}

func handleGetClient(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		if ids.IsGlobalClient(r.PathValue("id")) {
			return selection(r).apply(ids.GlobalClient()), nil
		}
		c, err := ids.Client(r.Context(), r.PathValue("id"))
		return selection(r).apply(c), err
	})
}

func handleListClients(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		pg, err := readPaging(r, 50)
		if err != nil {
			return nil, err
		}
		q := r.URL.Query()
		matched, err := matchClients(r.Context(), ids, q)
		if err != nil {
			return nil, err
		}
		from, to := pg.window(len(matched))
		items := selection(r).applyAll(matched[from:to])
		if !pg.IncludeTotals {
			return items, nil
		}
		return map[string]any{"start": from, "limit": pg.PerPage, "total": len(matched), "clients": items}, nil
	})
}

// matchClients returns the clients a list asks for. The global client is
// listed only to whoever asks for it (is_global=true), as Auth0's tools do.
func matchClients(ctx context.Context, ids *identity.Service, q url.Values) ([]any, error) {
	if q.Get("is_global") == "true" {
		return []any{ids.GlobalClient()}, nil
	}
	all, err := ids.Clients(ctx)
	if err != nil {
		return nil, err
	}
	matched := []any{}
	for _, c := range all {
		if appType := q.Get("app_type"); appType != "" && c.AppType != appType {
			continue
		}
		if fp := q.Get("is_first_party"); fp != "" && strconv.FormatBool(c.IsFirstParty) != fp {
			continue
		}
		matched = append(matched, c)
	}
	return matched, nil
}

func handleUpdateClient(ids *identity.Service) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, p identity.Patch) (any, error) {
		if ids.IsGlobalClient(r.PathValue("id")) {
			return ids.UpdateGlobalClient(p)
		}
		return ids.UpdateClient(r.Context(), r.PathValue("id"), p)
	})
}

func handleDeleteClient(ids *identity.Service) http.Handler {
	return deleted(func(ctx context.Context, id string) error {
		if ids.IsGlobalClient(id) {
			return errs.Denied("operation_not_supported", "The global client (All Applications) cannot be deleted.")
		}
		return ids.DeleteClient(ctx, id)
	})
}

func handleCreateGrant(ids *identity.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, in identity.NewClientGrant) (any, error) {
		return ids.CreateClientGrant(r.Context(), in)
	})
}

// handleListGrants answers offset paging and, with take or from, checkpoint paging.
func handleListGrants(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		grants, err := ids.ClientGrants(r.Context(), r.URL.Query().Get("client_id"), r.URL.Query().Get("audience"))
		if err != nil {
			return nil, err
		}
		show := func(g identity.ClientGrant) any { return g }
		if page, next, asked, err := checkpoint(r, grants, func(g identity.ClientGrant) string { return g.ID }); asked {
			return checkpointBody("client_grants", toAny(page, show), next), err
		}
		pg, err := readPaging(r, 50)
		if err != nil {
			return nil, err
		}
		from, to := pg.window(len(grants))
		items := toAny(grants[from:to], show)
		if !pg.IncludeTotals {
			return items, nil
		}
		return map[string]any{"start": from, "limit": pg.PerPage, "total": len(grants), "client_grants": items}, nil
	})
}

func handleUpdateGrant(ids *identity.Service) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, p identity.ClientGrantPatch) (any, error) {
		return ids.UpdateClientGrant(r.Context(), r.PathValue("id"), p)
	})
}

func handleDeleteGrant(ids *identity.Service) http.Handler {
	return deleted(ids.DeleteClientGrant)
}

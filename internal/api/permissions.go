package api

import (
	"net/http"

	"github.com/usherid/usher/internal/identity"
)

// permissionsBody is the body of POST and DELETE /api/v2/users/{id}/permissions.
type permissionsBody struct {
	Permissions []identity.Permission `json:"permissions"`
}

// permissionJSON is a user's permission as Auth0 lists it: granted
// directly, on the API it belongs to.
type permissionJSON struct {
	identity.Permission
	Description        string          `json:"description"`
	ResourceServerName string          `json:"resource_server_name"`
	Sources            []permissionSrc `json:"sources"`
}

type permissionSrc struct {
	SourceID   string `json:"source_id"`
	SourceName string `json:"source_name"`
	SourceType string `json:"source_type"`
}

var permissionDescriptions = map[string]string{identity.AdminPermission: "Use the Usher dashboard"}

func handleListPermissions(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		pg, err := readPaging(r, 50)
		if err != nil {
			return nil, err
		}
		ps, err := ids.UserPermissions(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		items := make([]permissionJSON, 0, len(ps))
		for _, p := range ps {
			items = append(items, permissionJSON{Permission: p, Description: permissionDescriptions[p.PermissionName],
				ResourceServerName: "Usher Management API", Sources: []permissionSrc{{SourceType: "DIRECT"}}})
		}
		from, to := pg.window(len(items))
		if !pg.IncludeTotals {
			return items[from:to], nil
		}
		return map[string]any{"start": pg.Page * pg.PerPage, "limit": pg.PerPage, "total": len(items), "permissions": items[from:to]}, nil
	})
}

func handleAssignPermissions(ids *identity.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, in permissionsBody) (any, error) {
		return struct{}{}, ids.AssignPermissions(r.Context(), r.PathValue("id"), in.Permissions)
	})
}

func handleRemovePermissions(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in permissionsBody
		if err := readJSON(w, r, &in); err != nil {
			mgmtError(w, err)
			return
		}
		if err := ids.RemovePermissions(r.Context(), r.PathValue("id"), in.Permissions); err != nil {
			mgmtError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

package api

import (
	"net/http"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/web"
)

// secretJSON is a secret as the API shows it: never its value.
type secretJSON struct {
	Name      string `json:"name"`
	UpdatedAt string `json:"updated_at"`
}

// actionRefJSON is the action a version belongs to.
type actionRefJSON struct {
	ID                 string               `json:"id"`
	Name               string               `json:"name"`
	SupportedTriggers  []actions.TriggerRef `json:"supported_triggers"`
	AllChangesDeployed bool                 `json:"all_changes_deployed"`
	CreatedAt          string               `json:"created_at"`
	UpdatedAt          string               `json:"updated_at"`
}

// actionJSON is an action as the Management API shows it.
type actionJSON struct {
	ID                 string               `json:"id"`
	Name               string               `json:"name"`
	SupportedTriggers  []actions.TriggerRef `json:"supported_triggers"`
	AllChangesDeployed bool                 `json:"all_changes_deployed"`
	CreatedAt          string               `json:"created_at"`
	UpdatedAt          string               `json:"updated_at"`
	Code               string               `json:"code"`
	Dependencies       []actions.Dependency `json:"dependencies"`
	Runtime            string               `json:"runtime"`
	Secrets            []secretJSON         `json:"secrets"`
	DeployedVersion    *versionJSON         `json:"deployed_version,omitempty"`
	Status             string               `json:"status"`
	BuiltAt            string               `json:"built_at"`
	Modules            []any                `json:"modules"`
}

// versionJSON is a deployed version of an action.
type versionJSON struct {
	ID                string               `json:"id"`
	ActionID          string               `json:"action_id"`
	Code              string               `json:"code"`
	Dependencies      []actions.Dependency `json:"dependencies"`
	Deployed          bool                 `json:"deployed"`
	Runtime           string               `json:"runtime"`
	Secrets           []secretJSON         `json:"secrets"`
	Status            string               `json:"status"`
	Number            int                  `json:"number"`
	Errors            []any                `json:"errors"`
	Action            *actionRefJSON       `json:"action,omitempty"`
	BuiltAt           string               `json:"built_at"`
	CreatedAt         string               `json:"created_at"`
	UpdatedAt         string               `json:"updated_at"`
	SupportedTriggers []actions.TriggerRef `json:"supported_triggers"`
	Modules           []any                `json:"modules"`
}

// bindingJSON is a binding of a trigger.
type bindingJSON struct {
	ID          string      `json:"id"`
	TriggerID   string      `json:"trigger_id"`
	DisplayName string      `json:"display_name"`
	Action      *actionJSON `json:"action,omitempty"`
	CreatedAt   string      `json:"created_at"`
	UpdatedAt   string      `json:"updated_at"`
}

func toSecretsJSON(ss []actions.Secret) []secretJSON {
	out := make([]secretJSON, len(ss))
	for i, s := range ss {
		out[i] = secretJSON{Name: s.Name, UpdatedAt: formatTime(s.UpdatedAt)}
	}
	return out
}

func toActionJSON(a actions.Action) actionJSON {
	j := actionJSON{
		ID: a.ID, Name: a.Name, SupportedTriggers: []actions.TriggerRef{a.Trigger}, AllChangesDeployed: a.AllChangesDeployed,
		CreatedAt: formatTime(a.CreatedAt), UpdatedAt: formatTime(a.UpdatedAt), Code: a.Code, Dependencies: a.Dependencies,
		Runtime: a.Runtime, Secrets: toSecretsJSON(a.Secrets), Status: a.Status, BuiltAt: formatTime(a.BuiltAt), Modules: []any{},
	}
	if j.Dependencies == nil {
		j.Dependencies = []actions.Dependency{}
	}
	if a.Deployed != nil {
		v := toVersionJSON(*a.Deployed)
		j.DeployedVersion = &v
	}
	return j
}

func toVersionJSON(v actions.Version) versionJSON {
	j := versionJSON{
		ID: v.ID, ActionID: v.ActionID, Code: v.Code, Dependencies: v.Dependencies, Deployed: v.Deployed, Runtime: v.Runtime,
		Secrets: toSecretsJSON(v.Secrets), Status: v.Status, Number: v.Number, Errors: []any{}, BuiltAt: formatTime(v.BuiltAt),
		CreatedAt: formatTime(v.CreatedAt), UpdatedAt: formatTime(v.UpdatedAt), SupportedTriggers: []actions.TriggerRef{v.Trigger}, Modules: []any{},
	}
	if j.Dependencies == nil {
		j.Dependencies = []actions.Dependency{}
	}
	if a := v.Action; a != nil {
		j.Action = &actionRefJSON{ID: a.ID, Name: a.Name, SupportedTriggers: []actions.TriggerRef{a.Trigger},
			AllChangesDeployed: a.AllChangesDeployed, CreatedAt: formatTime(a.CreatedAt), UpdatedAt: formatTime(a.UpdatedAt)}
	}
	return j
}

func toBindingJSON(b actions.Binding) bindingJSON {
	j := bindingJSON{ID: b.ID, TriggerID: b.TriggerID, DisplayName: b.DisplayName, CreatedAt: formatTime(b.CreatedAt), UpdatedAt: formatTime(b.UpdatedAt)}
	if b.Action != nil {
		a := toActionJSON(*b.Action)
		j.Action = &a
	}
	return j
}

// boolQuery reads an optional true/false query parameter.
func boolQuery(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errs.Invalid("invalid_query_string", "Query validation error: '%s must be true or false' on property %s.", name, name)
}

// pageOf is Auth0's paged list of actions, versions or bindings: {total, page, per_page, key}.
func pageOf[T any](r *http.Request, key string, items []T, show func(T) any) (any, error) {
	pg, err := readPaging(r, 50)
	if err != nil {
		return nil, err
	}
	from, to := pg.window(len(items))
	return map[string]any{"total": len(items), "page": pg.Page, "per_page": pg.PerPage, key: toAny(items[from:to], show)}, nil
}

func handleCreateAction(as *actions.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, in actions.ActionInput) (any, error) {
		a, err := as.CreateAction(r.Context(), in)
		return toActionJSON(a), err
	})
}

func handleListActions(as *actions.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		q := r.URL.Query()
		deployed, err := boolQuery(r, "deployed")
		if err != nil {
			return nil, err
		}
		installed, err := boolQuery(r, "installed")
		if err != nil {
			return nil, err
		}
		list, err := as.Actions(r.Context(), actions.Filter{TriggerID: q.Get("triggerId"), Name: q.Get("actionName"), DeployedOnly: deployed, Installed: installed})
		if err != nil {
			return nil, err
		}
		return pageOf(r, "actions", list, func(a actions.Action) any { return toActionJSON(a) })
	})
}

func handleGetAction(as *actions.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		a, err := as.Action(r.Context(), r.PathValue("id"))
		return toActionJSON(a), err
	})
}

func handleUpdateAction(as *actions.Service) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, p actions.ActionPatch) (any, error) {
		a, err := as.UpdateAction(r.Context(), r.PathValue("id"), p)
		return toActionJSON(a), err
	})
}

func handleDeleteAction(as *actions.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		force, err := boolQuery(r, "force")
		if err == nil {
			err = as.DeleteAction(r.Context(), r.PathValue("id"), force)
		}
		if err != nil {
			mgmtError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleDeployAction answers 202 with the new version. The request has no
// body (and no content type): the Node SDK sends none.
func handleDeployAction(as *actions.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := as.Deploy(r.Context(), r.PathValue("id"))
		if err != nil {
			mgmtError(w, err)
			return
		}
		web.WriteJSON(w, http.StatusAccepted, toVersionJSON(v))
	})
}

func handleListActionVersions(as *actions.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		vs, err := as.Versions(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		return pageOf(r, "versions", vs, func(v actions.Version) any { return toVersionJSON(v) })
	})
}

func handleGetActionVersion(as *actions.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		v, err := as.Version(r.Context(), r.PathValue("id"), r.PathValue("versionId"))
		return toVersionJSON(v), err
	})
}

func handleListTriggers(as *actions.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		return map[string]any{"triggers": as.Triggers()}, nil
	})
}

func handleListBindings(as *actions.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		bs, err := as.Bindings(r.Context(), r.PathValue("triggerId"))
		if err != nil {
			return nil, err
		}
		return pageOf(r, "bindings", bs, func(b actions.Binding) any { return toBindingJSON(b) })
	})
}

func handleUpdateBindings(as *actions.Service) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, in actions.BindingsUpdate) (any, error) {
		bs, err := as.UpdateBindings(r.Context(), r.PathValue("triggerId"), in)
		if err != nil {
			return nil, err
		}
		return map[string]any{"bindings": toAny(bs, func(b actions.Binding) any { return toBindingJSON(b) })}, nil
	})
}

package api

import (
	"net/http"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/features"
)

// emptyCollection is a kind of resource Auth0 has and Usher does not: it
// lists empty, in the shape Auth0 lists it; none is found by id; and making
// one is refused, naming the feature. Tools that copy a whole tenant (the
// Deploy CLI) read every one of them.
type emptyCollection struct {
	path  string // under /api/v2/
	key   string // the list's property in Auth0's wrapped answers
	shape listShape
	scope string // the scopes' resource: read:SCOPE, create:SCOPE, …
	// thing is one of them, for the 404's sentence and code ("log stream":
	// "The log stream does not exist.", inexistent_log_stream).
	thing string
	// feature and why make the refusal of a create (features.NotOffered).
	feature, why string
	// items are the methods Auth0 serves on PATH/{id}; readOnly
	// collections have no create either.
	items    []string
	readOnly bool
}

// listShape is how Auth0 answers a list.
type listShape int

const (
	// offsetPaged: a bare array; {KEY, start, limit, total} with
	// include_totals=true; {KEY} with checkpoint paging (take, from).
	offsetPaged listShape = iota
	// bareArray: always a bare array.
	bareArray
	// wrapped: always {KEY} (checkpoint-paged and unpaged lists).
	wrapped
	// numbered: {KEY, total, page, per_page}, as the Actions API pages.
	numbered
)

var byID = []string{"GET", "PATCH", "DELETE"}

const useActions = "Auth0 replaced them with Actions, which Usher runs (/api/v2/actions/actions)"

// emptyCollections are the resources Usher lists as empty.
var emptyCollections = []emptyCollection{
	{path: "rules", key: "rules", scope: "rules", thing: "rule", feature: "Rules", why: useActions, items: byID},
	{path: "hooks", key: "hooks", scope: "hooks", thing: "hook", feature: "Hooks", why: useActions, items: byID},
	{path: "roles", key: "roles", scope: "roles", thing: "role", feature: "Roles",
		why: "permissions are granted to users directly (/api/v2/users/{id}/permissions)", items: byID},
	{path: "organizations", key: "organizations", scope: "organizations", thing: "organization", feature: "Organizations", items: byID},
	{path: "log-streams", shape: bareArray, scope: "log_streams", thing: "log stream", feature: "Log streams",
		why: "read the tenant log with GET /api/v2/logs", items: byID},
	{path: "custom-domains", shape: bareArray, scope: "custom_domains", thing: "custom domain", feature: "Custom domains",
		why: "Usher answers on its public URL (USHER_PUBLIC_URL)", items: byID},
	{path: "actions/modules", key: "modules", shape: numbered, scope: "actions", thing: "action module", feature: "Actions modules", items: byID},
	{path: "forms", key: "forms", scope: "forms", thing: "form", feature: "Forms", items: byID},
	{path: "flows", key: "flows", scope: "flows", thing: "flow", feature: "Flows", items: byID},
	{path: "flows/vault/connections", key: "connections", scope: "flows_vault_connections", thing: "flows vault connection", feature: "Flows", items: byID},
	{path: "self-service-profiles", key: "self_service_profiles", scope: "self_service_profiles", thing: "self-service profile", feature: "Self-service SSO", items: byID},
	{path: "network-acls", key: "network_acls", scope: "network_acls", thing: "network ACL", feature: "Tenant access control lists", items: []string{"GET", "PUT", "PATCH", "DELETE"}},
	{path: "user-attribute-profiles", key: "user_attribute_profiles", shape: wrapped, scope: "user_attribute_profiles", thing: "user attribute profile", feature: "User attribute profiles", items: byID},
	{path: "connection-profiles", key: "connection_profiles", shape: wrapped, scope: "connection_profiles", thing: "connection profile", feature: "Connection profiles", items: byID},
	{path: "token-exchange-profiles", key: "token_exchange_profiles", shape: wrapped, scope: "token_exchange_profiles", thing: "token exchange profile", feature: "Custom token exchange", items: byID},
	{path: "rate-limit-policies", key: "rate_limit_policies", shape: wrapped, scope: "rate_limit_policies", thing: "rate limit policy", feature: "Rate limit policies", items: byID},
	{path: "event-streams", key: "eventStreams", shape: wrapped, scope: "event_streams", thing: "event stream", feature: "Event streams", items: byID},
	{path: "branding/phone/providers", key: "providers", shape: wrapped, scope: "phone_providers", thing: "phone provider", feature: "Sending text and voice messages", items: byID},
	{path: "branding/phone/templates", key: "templates", shape: wrapped, scope: "phone_templates", thing: "phone template", feature: "Sending text and voice messages", items: byID},
	{path: "connections-directory-provisionings", key: "directory_provisionings", shape: wrapped, scope: "directory_provisionings", readOnly: true},
	{path: "prompts/rendering", key: "configs", scope: "prompts", readOnly: true},
}

// notFound is the 404 of a resource of the collection asked for by id.
func (c emptyCollection) notFound() error {
	return errs.NotFound("inexistent_"+underscored(c.thing), "The "+c.thing+" does not exist.")
}

func underscored(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == ' ' || c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

// handleEmptyList answers the collection's list: nothing, in its shape.
func handleEmptyList(c emptyCollection) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		pg, err := readPaging(r, 50)
		if err != nil {
			return nil, err
		}
		_, _, checkpointed, err := checkpoint(r, []any(nil), func(any) string { return "" })
		if err != nil {
			return nil, err
		}
		items := []any{}
		switch {
		case c.shape == bareArray:
			return items, nil
		case c.shape == wrapped || checkpointed:
			return map[string]any{c.key: items}, nil
		case c.shape == numbered:
			return map[string]any{c.key: items, "total": 0, "page": pg.Page, "per_page": pg.PerPage}, nil
		case pg.IncludeTotals:
			return map[string]any{c.key: items, "start": pg.Page * pg.PerPage, "limit": pg.PerPage, "total": 0}, nil
		}
		return items, nil
	})
}

// handleNotOffered refuses a write of a feature Usher does not have.
func handleNotOffered(feature, why string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mgmtError(w, features.NotOffered(feature, why))
	})
}

// handleNoSuch answers the 404 of a resource that does not exist.
func handleNoSuch(err error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mgmtError(w, err) })
}

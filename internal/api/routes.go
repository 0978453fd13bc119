package api

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes is the one table of every route Usher serves.
func addRoutes(mux *http.ServeMux, d Deps) {
	ids, tokens := d.Identity, d.OAuth
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.Ready, d.Logger))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{}))

	// Authentication API.
	mux.Handle("GET /.well-known/openid-configuration", handleDiscovery(tokens.Issuer()))
	mux.Handle("GET /.well-known/jwks.json", handleJWKS(tokens.Keys()))
	mux.Handle("POST /oauth/token", limitPerIP(handleToken(tokens), 10, 30))

	// Management API: every route names the scopes that may call it.
	m := func(h http.Handler, scopes ...string) http.Handler {
		return requireScope(tokens, ids.ManagementAudience(), scopes, h)
	}
	mux.Handle("POST /api/v2/users", m(handleCreateUser(ids), "create:users"))
	mux.Handle("GET /api/v2/users", m(handleListUsers(ids), "read:users"))
	mux.Handle("GET /api/v2/users/{id}", m(handleGetUser(ids), "read:users"))
	mux.Handle("PATCH /api/v2/users/{id}", m(handleUpdateUser(ids), "update:users", "update:users_app_metadata"))
	mux.Handle("DELETE /api/v2/users/{id}", m(handleDeleteUser(ids), "delete:users"))
	mux.Handle("GET /api/v2/users-by-email", m(handleUsersByEmail(ids), "read:users"))

	mux.Handle("POST /api/v2/clients", m(handleCreateClient(ids), "create:clients"))
	mux.Handle("GET /api/v2/clients", m(handleListClients(ids), "read:clients", "read:client_keys"))
	mux.Handle("GET /api/v2/clients/{id}", m(handleGetClient(ids), "read:clients", "read:client_keys"))
	mux.Handle("PATCH /api/v2/clients/{id}", m(handleUpdateClient(ids), "update:clients", "update:client_keys"))
	mux.Handle("DELETE /api/v2/clients/{id}", m(handleDeleteClient(ids), "delete:clients"))
	mux.Handle("POST /api/v2/clients/{id}/rotate-secret", m(handleRotateSecret(ids), "update:client_keys"))

	mux.Handle("POST /api/v2/client-grants", m(handleCreateGrant(ids), "create:client_grants"))
	mux.Handle("GET /api/v2/client-grants", m(handleListGrants(ids), "read:client_grants"))
	mux.Handle("PATCH /api/v2/client-grants/{id}", m(handleUpdateGrant(ids), "update:client_grants"))
	mux.Handle("DELETE /api/v2/client-grants/{id}", m(handleDeleteGrant(ids), "delete:client_grants"))

	mux.Handle("POST /api/v2/connections", m(handleCreateConnection(ids), "create:connections"))
	mux.Handle("GET /api/v2/connections", m(handleListConnections(ids), "read:connections"))
	mux.Handle("GET /api/v2/connections/{id}", m(handleGetConnection(ids), "read:connections"))
	mux.Handle("PATCH /api/v2/connections/{id}", m(handleUpdateConnection(ids), "update:connections"))
	mux.Handle("DELETE /api/v2/connections/{id}", m(handleDeleteConnection(ids), "delete:connections"))

	mux.Handle("GET /api/v2/tenants/settings", m(handleGetTenantSettings(ids), "read:tenant_settings"))
	mux.Handle("PATCH /api/v2/tenants/settings", m(handleUpdateTenantSettings(ids), "update:tenant_settings"))

	mux.Handle("/api/v2/", handleMgmtNotFound())
}

// Package api is Usher's HTTP surface: the Management API (/api/v2), the
// Authentication API (/oauth, /.well-known) and the operations endpoints.
// Handlers decode, call one service method and encode; errors are mapped to
// HTTP here and nowhere else.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/imports"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/pages"
	"github.com/usherid/usher/internal/web"
)

// Deps is what the HTTP surface needs.
type Deps struct {
	Identity *identity.Service
	// Imports receives, runs and reports users imports.
	Imports *imports.Service
	OAuth   *oauth.Server
	Mail    *mail.Service
	Pages   *pages.Pages
	// Actions keeps and runs the tenant's Actions.
	Actions *actions.Service
	// WakeOutbox tells the delivery worker that mail is waiting.
	WakeOutbox func()
	Logger     *slog.Logger
	// Proxies are the load balancers whose forwarding headers name the
	// client; none: every client is the connection's peer.
	Proxies web.Proxies
	Metrics *prometheus.Registry
	// Dashboard serves /dashboard/ (nil: no dashboard).
	Dashboard http.Handler
	// Ready reports whether the database answers; /readyz calls it.
	Ready func(ctx context.Context) error
	// UploadStall is how long an import upload may bring nothing before
	// it is dropped (0: web.UploadStall); as long as it keeps coming, the
	// server's read timeout does not end it.
	UploadStall time.Duration
}

// router is what addRoutes registers its routes on: the server's
// http.ServeMux, or ManagementRoutes' list.
type router interface {
	Handle(pattern string, h http.Handler)
}

// Route is a route that requires a Management API scope: its pattern as the
// mux has it ("GET /api/v2/users/{id}") and the scopes any one of which
// admits a request.
type Route struct {
	Pattern string
	Scopes  []string
}

// ManagementRoutes lists every route that requires a scope, read from the
// table NewServer serves (addRoutes), so that a test can check each one.
func ManagementRoutes() []Route {
	var routes scopedRoutes
	addRoutes(&routes, Deps{Identity: &identity.Service{}, OAuth: &oauth.Server{}, Pages: pages.New(nil, nil, nil, nil, "", nil)})
	return routes
}

// Routes lists the pattern of every route NewServer serves, read from the
// same table (addRoutes), so that a test can reach each one; the dashboard
// is its one "/dashboard/" pattern (its own routes are dashboard.Routes).
func Routes() []string {
	var routes patterns
	addRoutes(&routes, Deps{Identity: &identity.Service{}, OAuth: &oauth.Server{}, Pages: pages.New(nil, nil, nil, nil, "", nil), Dashboard: http.NotFoundHandler()})
	return routes
}

// patterns is a router that keeps the pattern of every route.
type patterns []string

func (ps *patterns) Handle(pattern string, _ http.Handler) { *ps = append(*ps, pattern) }

// scopedRoutes is a router that keeps the routes that require a scope.
type scopedRoutes []Route

func (rs *scopedRoutes) Handle(pattern string, h http.Handler) {
	if s, ok := h.(scoped); ok {
		*rs = append(*rs, Route{Pattern: pattern, Scopes: s.scopes})
	}
}

// NewServer returns Usher's HTTP handler.
func NewServer(d Deps) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, d)
	return edge(mux, d.Logger, d.Metrics, d.Proxies)
}

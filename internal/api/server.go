// Package api is Usher's HTTP surface: the Management API (/api/v2), the
// Authentication API (/oauth, /.well-known) and the operations endpoints.
// Handlers decode, call one service method and encode; errors are mapped to
// HTTP here and nowhere else.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/headers"
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
}

// NewServer returns Usher's HTTP handler.
func NewServer(d Deps) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, d)
	var h http.Handler = mux
	h = observe(h, d.Logger, d.Metrics)
	h = recoverPanics(h, d.Logger)
	h = d.Proxies.Resolve(h)
	h = headers.Wrap(h)
	return h
}

package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/rs/cors"
	"github.com/usherid/usher/internal/identity"
)

// browserRoutes registers the endpoints Auth0 lets pages of other origins
// call (the token endpoint, userinfo, the database connection's sign-up and
// password change, discovery): each answers CORS for the origins some
// client allows (web_origins, allowed_origins, the origins of callbacks),
// and its preflight answers 204 with the methods and headers Auth0's
// libraries send. Other origins get no CORS headers; the Management API has
// none at all, as it is server to server.
type browserRoutes struct {
	mux     router
	cors    *cors.Cors
	methods map[string][]string // path → methods, for the preflight's Allow
}

func newBrowserRoutes(mux router, ids *identity.Service, log *slog.Logger) *browserRoutes {
	c := cors.New(cors.Options{
		AllowOriginVaryRequestFunc: func(r *http.Request, origin string) (bool, []string) {
			ok, err := ids.AllowsOrigin(r.Context(), origin)
			if err != nil {
				log.Warn("check a CORS origin", "origin", origin, "error", err)
			}
			return ok, nil
		},
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Auth0-Client", "X-Requested-With"},
		AllowCredentials: true,
		MaxAge:           600,
	})
	return &browserRoutes{mux: mux, cors: c, methods: map[string][]string{}}
}

// Handle registers h for "METHOD /path" with CORS, and the path's OPTIONS.
func (b *browserRoutes) Handle(pattern string, h http.Handler) {
	method, path, _ := strings.Cut(pattern, " ")
	b.mux.Handle(pattern, b.cors.Handler(h))
	if _, seen := b.methods[path]; !seen {
		b.mux.Handle("OPTIONS "+path, b.cors.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// An OPTIONS that is no preflight: say what the path takes.
			w.Header().Set("Allow", strings.Join(append(b.methods[path], http.MethodOptions), ", "))
			w.WriteHeader(http.StatusNoContent)
		})))
	}
	b.methods[path] = append(b.methods[path], method)
}

package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/web"
)

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func handleReadyz(ready func(context.Context) error, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			web.Logger(r.Context(), log).Warn("not ready", "error", err.Error())
			web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
			return
		}
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func handleMgmtNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeMgmtError(w, http.StatusNotFound, "not_found", "Not Found")
	})
}

func handleJWKS(keys *oauth.Keys) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		web.WriteJSON(w, http.StatusOK, keys.Set(r.Context()).JWKS())
	})
}

func handleDiscovery(issuer string) http.Handler {
	doc := map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                issuer + "authorize",
		"token_endpoint":                        issuer + "oauth/token",
		"userinfo_endpoint":                     issuer + "userinfo",
		"end_session_endpoint":                  issuer + "oidc/logout",
		"jwks_uri":                              issuer + ".well-known/jwks.json",
		"scopes_supported":                      []string{"openid", "profile", "offline_access", "name", "given_name", "family_name", "nickname", "email", "email_verified", "picture", "created_at", "identities"},
		"response_types_supported":              oauth.ResponseTypes,
		"response_modes_supported":              oauth.ResponseModes,
		"grant_types_supported":                 []string{"authorization_code", "implicit", "refresh_token", "client_credentials", "password", oauth.GrantPasswordRealm},
		"code_challenge_methods_supported":      []string{"S256", "plain"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"claims_supported":                      []string{"aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name", "given_name", "iat", "identities", "iss", "name", "nickname", "picture", "sub"},
		"request_uri_parameter_supported":       false,
		"request_parameter_supported":           false,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		web.WriteJSON(w, http.StatusOK, doc)
	})
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/web"
)

type claimsKey struct{}

// claimsFrom returns the verified access-token claims of a Management request.
func claimsFrom(ctx context.Context) oauth.Claims {
	c, _ := ctx.Value(claimsKey{}).(oauth.Claims)
	return c
}

// requireScope admits a request that carries a valid Management API access
// token holding any of scopes: no token is a 401, too few scopes a 403.
func requireScope(tokens *oauth.Server, audience string, scopes []string, next http.Handler) http.Handler {
	return scoped{scopes: scopes, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, raw, _ := strings.Cut(auth, " ")
		if auth == "" || !strings.EqualFold(scheme, "Bearer") || raw == "" {
			writeMgmtError(w, http.StatusUnauthorized, "missing_authentication", "Missing authentication")
			return
		}
		claims, err := tokens.VerifyAccessToken(strings.TrimSpace(raw), audience)
		if err != nil {
			code := "invalid_token"
			if errors.Is(err, oauth.ErrTokenExpired) {
				code = "token_expired"
			}
			writeMgmtError(w, http.StatusUnauthorized, code, err.Error())
			return
		}
		if !claims.HasAnyScope(scopes...) {
			writeMgmtError(w, http.StatusForbidden, "insufficient_scope", "Insufficient scope, expected any of: "+strings.Join(scopes, ","))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
	})}
}

// scoped is a handler requireScope guards, with the scopes it admits; what
// ManagementRoutes reads.
type scoped struct {
	http.Handler
	scopes []string
}

// tokenParams reads a token request from a form or a JSON body.
func tokenParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	body, err := readBody(w, r, 64<<10)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errors.New("The request body is too large")
		}
		return nil, errors.New("The request body could not be read")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, errors.New("Invalid JSON body")
		}
		v := url.Values{}
		for k, val := range m {
			if s, ok := val.(string); ok {
				v.Set(k, s)
			}
		}
		return v, nil
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("Invalid form body")
	}
	return v, nil
}

// login reads the parts of a token request every user grant shares.
func login(r *http.Request, p url.Values, clientID, secret string) oauth.Login {
	return oauth.Login{ClientID: clientID, ClientSecret: secret, Scope: p.Get("scope"), Audience: p.Get("audience"),
		RedirectURI: p.Get("redirect_uri"), Who: identity.Requester{IP: web.ClientIP(r), UserAgent: r.UserAgent()}}
}

func handleToken(tokens *oauth.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := tokenParams(w, r)
		if err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		clientID, secret := p.Get("client_id"), p.Get("client_secret")
		if id, sec, ok := r.BasicAuth(); ok {
			// client_secret_basic: the parts are form-encoded before Base64 (RFC 6749 §2.3.1).
			id, _ = url.QueryUnescape(id)
			sec, _ = url.QueryUnescape(sec)
			clientID, secret = id, sec
		}
		var resp oauth.TokenResponse
		switch grant := p.Get("grant_type"); grant {
		case "":
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type")
			return
		case "client_credentials":
			resp, err = tokens.ClientCredentials(r.Context(), oauth.ClientCredentialsRequest{
				ClientID: clientID, ClientSecret: secret, Audience: p.Get("audience"), Scope: p.Get("scope"),
			})
		case "password", oauth.GrantPasswordRealm:
			resp, err = tokens.PasswordGrant(r.Context(), login(r, p, clientID, secret), grant, p.Get("realm"), p.Get("username"), p.Get("password"))
		case "authorization_code":
			resp, err = tokens.ExchangeCode(r.Context(), login(r, p, clientID, secret), p.Get("code"), p.Get("code_verifier"))
		case "refresh_token":
			resp, err = tokens.Refresh(r.Context(), login(r, p, clientID, secret), p.Get("refresh_token"))
		default:
			writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: "+grant)
			return
		}
		var oe *oauth.Error
		switch {
		case errors.As(err, &oe):
			if oe.Code == "too_many_requests" {
				// The password hashing is at capacity: a moment later it is not.
				w.Header().Set("Retry-After", "1")
			}
			writeOAuthError(w, oe.Status, oe.Code, oe.Description)
		case err != nil:
			oauthServerError(w, err, "The server could not issue a token.")
		default:
			w.Header().Set("Cache-Control", "no-store")
			web.WriteJSON(w, http.StatusOK, resp)
		}
	})
}

func handleUserInfo(tokens *oauth.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || raw == "" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "Missing access token")
			return
		}
		claims, err := tokens.UserInfo(r.Context(), strings.TrimSpace(raw))
		var oe *oauth.Error
		switch {
		case errors.As(err, &oe):
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeOAuthError(w, oe.Status, oe.Code, oe.Description)
		case err != nil:
			oauthServerError(w, err, "The server could not read the user.")
		default:
			web.WriteJSON(w, http.StatusOK, claims)
		}
	})
}

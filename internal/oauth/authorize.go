package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usherid/usher/internal/identity"
)

// AuthorizeRequest is GET /authorize's query.
type AuthorizeRequest struct {
	ResponseType        string
	ClientID            string
	RedirectURI         string
	Scope               string
	State               string
	Nonce               string
	Audience            string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              string
	ResponseMode        string
	LoginHint           string
}

// ParseAuthorize reads an authorization request from its query.
func ParseAuthorize(q url.Values) AuthorizeRequest {
	return AuthorizeRequest{
		ResponseType: q.Get("response_type"), ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"),
		Scope: q.Get("scope"), State: q.Get("state"), Nonce: q.Get("nonce"), Audience: q.Get("audience"),
		CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method"),
		Prompt: q.Get("prompt"), ResponseMode: q.Get("response_mode"), LoginHint: q.Get("login_hint"),
	}
}

// ResponseTypes are the response_type values /authorize answers, as Auth0
// does: the code flow, the implicit flows and the hybrid flows.
var ResponseTypes = []string{"code", "token", "id_token", "id_token token", "code id_token", "code token", "code id_token token"}

// ResponseModes are the ways /authorize hands its answer back.
var ResponseModes = []string{"query", "fragment", "form_post", "web_message"}

// Wants reports whether the response type asks for part: "code",
// "id_token" or "token".
func (ar AuthorizeRequest) Wants(part string) bool {
	return slices.Contains(strings.Fields(ar.ResponseType), part)
}

// Mode is how the answer goes back: the response_mode asked for, or the
// default of the response type (query for the code flow, else fragment).
func (ar AuthorizeRequest) Mode() string {
	switch {
	case ar.ResponseMode != "":
		return ar.ResponseMode
	case ar.ResponseType == "code":
		return "query"
	}
	return "fragment"
}

// responseTypeOK reports whether rt is one of ResponseTypes, in any order.
func responseTypeOK(rt string) bool {
	parts := strings.Fields(rt)
	slices.Sort(parts)
	for _, known := range ResponseTypes {
		k := strings.Fields(known)
		slices.Sort(k)
		if slices.Equal(parts, k) {
			return true
		}
	}
	return false
}

// ErrBadRedirect means the request cannot be answered at its redirect_uri:
// the error is shown to the person instead.
var ErrBadRedirect = errors.New("bad redirect")

// CheckAuthorize validates an authorization request. An error wrapping
// ErrBadRedirect must be shown on a page; any other *Error goes back to
// the redirect_uri.
func (s *Server) CheckAuthorize(ctx context.Context, ar AuthorizeRequest) (identity.Client, error) {
	c, err := s.ids.Client(ctx, ar.ClientID)
	if err != nil {
		return c, errors.Join(ErrBadRedirect, &Error{400, "invalid_request", "Unknown client."})
	}
	// RedirectOK also keeps a callback stored before URLs were checked on save from being used.
	if ar.RedirectURI == "" || !slices.Contains(c.Callbacks, ar.RedirectURI) || !identity.RedirectOK(ar.RedirectURI, c.AppType == "native") {
		return c, errors.Join(ErrBadRedirect, &Error{400, "invalid_request",
			"The redirect_uri is not in the application's Allowed Callback URLs."})
	}
	implicit := ar.Wants("id_token") || ar.Wants("token")
	switch {
	case !responseTypeOK(ar.ResponseType):
		return c, &Error{400, "unsupported_response_type", "Unsupported response type: " + ar.ResponseType}
	case ar.Wants("code") && !c.HasGrantType("authorization_code"):
		return c, &Error{403, "unauthorized_client", "Grant type 'authorization_code' not allowed for the client."}
	case implicit && !c.HasGrantType("implicit"):
		return c, &Error{403, "unauthorized_client", "Grant type 'implicit' not allowed for the client."}
	case ar.ResponseMode != "" && !slices.Contains(ResponseModes, ar.ResponseMode):
		return c, &Error{400, "invalid_request", "response_mode must be one of " + strings.Join(ResponseModes, ", ") + "."}
	case implicit && ar.ResponseMode == "query":
		// Tokens in a query string end up in logs and Referer headers.
		return c, &Error{400, "invalid_request", "response_mode=query is not allowed with response_type=" + ar.ResponseType + "."}
	case ar.Wants("id_token") && ar.Nonce == "":
		return c, &Error{400, "invalid_request", "Nonce required for response_type " + ar.ResponseType + "."}
	case ar.CodeChallenge != "" && ar.CodeChallengeMethod != "" && ar.CodeChallengeMethod != "S256" && ar.CodeChallengeMethod != "plain":
		return c, &Error{400, "invalid_request", "code_challenge_method must be S256 or plain."}
	case ar.Wants("code") && ar.CodeChallenge == "" && c.TokenEndpointAuthMethod == "none":
		return c, &Error{400, "invalid_request", "A public client must use PKCE (code_challenge)."}
	case ar.Audience != "" && !s.knownAudience(ar.Audience):
		return c, &Error{403, "access_denied", "Service not found: " + ar.Audience}
	}
	return c, nil
}

// SessionUser returns the user of a live browser session and when they
// logged in (the auth_time of the tokens it leads to).
func (s *Server) SessionUser(ctx context.Context, cookie string) (identity.User, time.Time, bool) {
	if cookie == "" {
		return identity.User{}, time.Time{}, false
	}
	sess, err := s.store.Session(ctx, hashToken(cookie))
	if err != nil || !s.now().Before(sess.ExpiresAt) {
		return identity.User{}, time.Time{}, false
	}
	u, err := s.ids.User(ctx, sess.UserID)
	if err != nil || u.Blocked || !sameAsStamp(sess.PasswordStamp, u) {
		return identity.User{}, time.Time{}, false
	}
	return u, sess.CreatedAt, true
}

// NewSession starts a browser session for u, as just authenticated, and
// returns its cookie value.
func (s *Server) NewSession(ctx context.Context, u identity.User, lifetime time.Duration) (string, error) {
	if lifetime <= 0 {
		lifetime = sessionLifetime
	}
	token, id := randomToken()
	now := s.now()
	return token, s.store.CreateSession(ctx, Session{ID: id, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(lifetime),
		PasswordStamp: passwordStamp(u)})
}

// EndSession ends the session behind a cookie.
func (s *Server) EndSession(ctx context.Context, cookie string) error {
	if cookie == "" {
		return nil
	}
	return s.store.DeleteSession(ctx, hashToken(cookie))
}

// BrowserLogin completes an authorization request for a user who proved who
// they are at authTime (a password now, or a live session's login): it runs
// the post-login flow and returns what the response type asks for, as the
// parameters of the answer: an authorization code, and in the implicit and
// hybrid flows an ID token (with at_hash and c_hash) and an access token.
func (s *Server) BrowserLogin(ctx context.Context, client identity.Client, u identity.User, ar AuthorizeRequest, who identity.Requester, authTime time.Time) (url.Values, error) {
	conn, err := s.ids.Connection(ctx, u.ConnectionID)
	if err != nil {
		return nil, err
	}
	protocol := "oidc-basic-profile"
	if ar.Wants("id_token") || ar.Wants("token") {
		protocol = "oidc-implicit-profile"
	}
	l := Login{ClientID: client.ClientID, Scope: ar.Scope, Audience: ar.Audience, Nonce: ar.Nonce, RedirectURI: ar.RedirectURI, Who: who}
	d, err := s.completeLogin(ctx, client, u, conn, l, protocol, authTime)
	if err != nil {
		return nil, err
	}
	now := s.now()
	answer := url.Values{}
	if ar.Wants("code") {
		d.details.CodeChallenge, d.details.CodeChallengeMethod = ar.CodeChallenge, ar.CodeChallengeMethod
		if d.details.CodeChallengeMethod == "" && d.details.CodeChallenge != "" {
			d.details.CodeChallengeMethod = "plain"
		}
		code, hash := randomToken()
		err = s.store.CreateGrant(ctx, Grant{ID: hash, Kind: GrantCode, ClientID: client.ClientID, UserID: d.user.ID, Details: d.details,
			CreatedAt: now, ExpiresAt: now.Add(codeLifetime)})
		if err != nil {
			return nil, fmt.Errorf("store authorization code: %w", err)
		}
		answer.Set("code", code)
	}
	// The front channel never carries a refresh token.
	tokens := withoutOffline(d.details)
	if ar.Wants("token") {
		access, err := s.sign(ctx, s.accessClaims(client, d.user, tokens, "", now))
		if err != nil {
			return nil, err
		}
		answer.Set("access_token", access)
		answer.Set("token_type", "Bearer")
		answer.Set("expires_in", strconv.Itoa(int(AccessTokenLifetime.Seconds())))
		answer.Set("scope", tokens.Scope)
	}
	if ar.Wants("id_token") {
		claims := s.idClaims(client, d.user, tokens, now)
		if access := answer.Get("access_token"); access != "" {
			claims["at_hash"] = halfHash(access)
		}
		if code := answer.Get("code"); code != "" {
			claims["c_hash"] = halfHash(code)
		}
		id, err := s.sign(ctx, claims)
		if err != nil {
			return nil, err
		}
		answer.Set("id_token", id)
	}
	return answer, nil
}

// halfHash is OpenID Connect's at_hash and c_hash of value for RS256: the
// left half of its SHA-256, base64url without padding.
func halfHash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// Authenticate checks a password typed on the hosted login page.
func (s *Server) Authenticate(ctx context.Context, client identity.Client, connection, email, password string, who identity.Requester) (identity.User, error) {
	u, _, err := s.ids.Authenticate(ctx, identity.Credentials{Connection: connection, Username: email, Password: password, ClientID: client.ClientID, Who: who})
	return u, err
}

// LogoutRedirect checks returnTo against the client's (or, without a client,
// the tenant's) Allowed Logout URLs.
func (s *Server) LogoutRedirect(ctx context.Context, clientID, returnTo string) error {
	if returnTo == "" {
		return nil
	}
	var allowed []string
	native := false
	if clientID != "" {
		c, err := s.ids.Client(ctx, clientID)
		if err != nil {
			return &Error{400, "invalid_request", "Unknown client."}
		}
		allowed, native = c.AllowedLogoutURLs, c.AppType == "native"
	} else {
		t, err := s.ids.TenantSettings(ctx)
		if err != nil {
			return err
		}
		allowed = t.AllowedLogoutURLs
	}
	// RedirectOK also keeps a URL stored before URLs were checked on save from being followed.
	if !slices.Contains(allowed, returnTo) || !identity.RedirectOK(returnTo, native) {
		return &Error{400, "invalid_request", "The returnTo URL is not in the Allowed Logout URLs."}
	}
	return nil
}

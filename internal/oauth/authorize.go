package oauth

import (
	"context"
	"errors"
	"net/url"
	"slices"
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
	switch {
	case ar.ResponseType != "code":
		return c, &Error{400, "unsupported_response_type", "Usher supports response_type=code."}
	case !c.HasGrantType("authorization_code"):
		return c, &Error{403, "unauthorized_client", "Grant type 'authorization_code' not allowed for the client."}
	case ar.ResponseMode != "" && ar.ResponseMode != "query" && ar.ResponseMode != "form_post":
		return c, &Error{400, "invalid_request", "response_mode must be query or form_post."}
	case ar.CodeChallenge != "" && ar.CodeChallengeMethod != "" && ar.CodeChallengeMethod != "S256" && ar.CodeChallengeMethod != "plain":
		return c, &Error{400, "invalid_request", "code_challenge_method must be S256 or plain."}
	case ar.CodeChallenge == "" && c.TokenEndpointAuthMethod == "none":
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
// the post-login flow and returns an authorization code.
func (s *Server) BrowserLogin(ctx context.Context, client identity.Client, u identity.User, ar AuthorizeRequest, who identity.Requester, authTime time.Time) (string, error) {
	conn, err := s.ids.Connection(ctx, u.ConnectionID)
	if err != nil {
		return "", err
	}
	l := Login{ClientID: client.ClientID, Scope: ar.Scope, Audience: ar.Audience, Nonce: ar.Nonce, RedirectURI: ar.RedirectURI, Who: who}
	d, err := s.completeLogin(ctx, client, u, conn, l, "oidc-basic-profile", authTime)
	if err != nil {
		return "", err
	}
	d.details.CodeChallenge, d.details.CodeChallengeMethod = ar.CodeChallenge, ar.CodeChallengeMethod
	if d.details.CodeChallengeMethod == "" && d.details.CodeChallenge != "" {
		d.details.CodeChallengeMethod = "plain"
	}
	code, hash := randomToken()
	now := s.now()
	err = s.store.CreateGrant(ctx, Grant{ID: hash, Kind: GrantCode, ClientID: client.ClientID, UserID: d.user.ID, Details: d.details,
		CreatedAt: now, ExpiresAt: now.Add(codeLifetime)})
	return code, err
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

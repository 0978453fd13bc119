package oauth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// Lifetimes of what a login hands out.
const (
	codeLifetime    = 10 * time.Minute
	sessionLifetime = 7 * 24 * time.Hour
)

// GrantPasswordRealm is Auth0's password grant with a connection.
const GrantPasswordRealm = "http://auth0.com/oauth/grant-type/password-realm"

// Login is one login's request: which client, for what.
type Login struct {
	ClientID, ClientSecret string
	Scope                  string
	Audience               string
	Nonce                  string
	RedirectURI            string
	Who                    identity.Requester
}

func randomToken() (token, id string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// client authenticates a client for a user grant. A client whose
// token_endpoint_auth_method is none is public: no secret, and the
// authorization-code grant then needs PKCE.
func (s *Server) client(ctx context.Context, id, secret, grant string) (identity.Client, error) {
	if id == "" {
		return identity.Client{}, &Error{401, "invalid_client", "Client authentication is required"}
	}
	c, err := s.ids.Client(ctx, id)
	if errs.KindOf(err) == errs.KindNotFound {
		return c, &Error{401, "invalid_client", "Unknown client."}
	} else if err != nil {
		return c, err
	}
	if c.TokenEndpointAuthMethod != "none" && !c.CheckSecret(secret) {
		return c, &Error{401, "invalid_client", "Client authentication failed."}
	}
	if !c.HasGrantType(grant) {
		return c, &Error{403, "unauthorized_client", fmt.Sprintf("Grant type '%s' not allowed for the client.", grant)}
	}
	return c, nil
}

// PasswordGrant is the password and password-realm grants: realm names the
// connection; without it the tenant's default directory is used.
func (s *Server) PasswordGrant(ctx context.Context, l Login, grant, realm, username, password string) (TokenResponse, error) {
	if username == "" || password == "" {
		return TokenResponse{}, &Error{400, "invalid_request", "Missing required parameter: username and password"}
	}
	client, err := s.client(ctx, l.ClientID, l.ClientSecret, grant)
	if err != nil {
		return TokenResponse{}, err
	}
	u, conn, err := s.ids.Authenticate(ctx, identity.Credentials{Connection: realm, Username: username, Password: password, ClientID: client.ClientID, Who: l.Who})
	if err != nil {
		return TokenResponse{}, loginError(err)
	}
	d, err := s.completeLogin(ctx, client, u, conn, l, "oauth2-password", s.now())
	if err != nil {
		return TokenResponse{}, err
	}
	return s.issueUserTokens(ctx, client, d.user, d.details, "password")
}

// loginError maps a domain login error to Auth0's token-endpoint answer.
func loginError(err error) error {
	var de *errs.Error
	if !errors.As(err, &de) {
		return err
	}
	switch {
	case errors.Is(err, identity.ErrWrongCredentials):
		return &Error{403, "invalid_grant", de.Message}
	case errors.Is(err, identity.ErrUserBlocked):
		return &Error{401, "unauthorized", de.Message}
	case errors.Is(err, identity.ErrTooManyAttempts):
		return &Error{429, "too_many_attempts", de.Message}
	case errors.Is(err, identity.ErrBusy):
		return &Error{429, "too_many_requests", de.Message}
	}
	return &Error{400, "invalid_request", de.Message}
}

// loggedIn is a completed login: the user as saved and what the tokens carry.
type loggedIn struct {
	user    identity.User
	details GrantDetails
}

// completeLogin runs the post-login Actions with Auth0's event object, applies
// their metadata changes once, counts the login, and returns what the tokens
// are to carry. A deny, a throw or a time-out fails the login.
func (s *Server) completeLogin(ctx context.Context, client identity.Client, u identity.User, conn identity.Connection, l Login, protocol string, authTime time.Time) (loggedIn, error) {
	scope := normalizeScope(l.Scope)
	if l.Audience != "" && !s.knownAudience(l.Audience) {
		return loggedIn{}, &Error{403, "access_denied", "Service not found: " + l.Audience}
	}
	event := postLoginEvent(u, client, conn, l, scope, protocol)
	outcome, err := s.actions.Run(ctx, actions.PostLogin, event)
	if len(outcome.Logs) > 0 {
		if lerr := s.ids.LogActionOutput(ctx, u, client.ClientID, actions.PostLogin, outcome.Logs); lerr != nil {
			return loggedIn{}, errors.Join(err, lerr)
		}
	}
	if err == nil && outcome.Denied != "" {
		err = &Error{403, "access_denied", outcome.Denied}
	}
	if err != nil {
		if lerr := s.ids.LogFailedLogin(ctx, u, client.ClientID, err.Error(), l.Who); lerr != nil {
			return loggedIn{}, errors.Join(err, lerr)
		}
		var oe *Error
		if errors.As(err, &oe) {
			return loggedIn{}, oe
		}
		return loggedIn{}, &Error{403, "access_denied", "The login was stopped by a post-login action: " + err.Error()}
	}
	saved, err := s.ids.RecordLogin(ctx, u.ID, client.ClientID, identity.LoginChanges{AppMetadata: outcome.AppMetadata, UserMetadata: outcome.UserMetadata}, l.Who)
	if de := (*errs.Error)(nil); errors.As(err, &de) && de.Kind == errs.KindInvalid {
		// The Actions asked for metadata Usher refuses to store (too deep,
		// too large, a reserved key): the login fails as a deny would.
		if lerr := s.ids.LogFailedLogin(ctx, u, client.ClientID, err.Error(), l.Who); lerr != nil {
			return loggedIn{}, errors.Join(err, lerr)
		}
		return loggedIn{}, &Error{403, "access_denied", "The login was stopped by a post-login action: " + de.Message}
	} else if err != nil {
		return loggedIn{}, err
	}
	return loggedIn{user: saved, details: GrantDetails{
		Scope: scope, Audience: l.Audience, Nonce: l.Nonce, RedirectURI: l.RedirectURI, AuthTime: authTime.Unix(),
		IDClaims: outcome.IDTokenClaims, AccessClaims: outcome.AccessTokenClaims,
		PasswordStamp: passwordStamp(u), // the password u proved, not saved's (it may have changed since)
	}}, nil
}

// knownAudience reports whether tokens can be issued for aud. Usher's only
// API is its own Management API, which users do not get tokens for.
func (s *Server) knownAudience(aud string) bool { return false }

func normalizeScope(scope string) string {
	if scope == "" {
		return "openid"
	}
	return strings.Join(strings.Fields(scope), " ")
}

func hasScope(scope, want string) bool { return slices.Contains(strings.Fields(scope), want) }

// postLoginEvent is Auth0's post-login event object.
func postLoginEvent(u identity.User, client identity.Client, conn identity.Connection, l Login, scope, protocol string) map[string]any {
	return map[string]any{
		"user":       UserObject(u),
		"client":     map[string]any{"client_id": client.ClientID, "name": client.Name, "metadata": client.ClientMetadata},
		"connection": map[string]any{"id": conn.ID, "name": conn.Name, "strategy": conn.Strategy, "metadata": map[string]any{}},
		"request":    map[string]any{"ip": l.Who.IP, "user_agent": l.Who.UserAgent, "method": "POST", "query": map[string]any{}, "body": map[string]any{}, "geoip": map[string]any{}},
		"stats":      map[string]any{"logins_count": u.LoginsCount + 1},
		"tenant":     map[string]any{"id": "usher"},
		"transaction": map[string]any{"protocol": protocol, "requested_scopes": strings.Fields(scope), "redirect_uri": l.RedirectURI,
			"locale": "en", "ui_locales": []string{}},
		"authentication": map[string]any{"methods": []any{map[string]any{"name": "pwd", "timestamp": time.Now().UTC().Format(time.RFC3339)}}},
		"authorization":  map[string]any{"roles": []any{}},
		"secrets":        map[string]any{},
	}
}

// UserObject is a user as Actions see event.user.
func UserObject(u identity.User) map[string]any {
	obj := map[string]any{
		"user_id": u.ID, "email": u.Email, "email_verified": u.EmailVerified, "name": u.Profile.Name,
		"nickname": u.Profile.Nickname, "app_metadata": maps.Clone(u.AppMetadata), "user_metadata": maps.Clone(u.UserMetadata),
		"created_at": u.CreatedAt.UTC().Format(time.RFC3339Nano), "updated_at": u.UpdatedAt.UTC().Format(time.RFC3339Nano),
		"identities": []any{map[string]any{"connection": u.Connection, "provider": "auth0", "user_id": strings.TrimPrefix(u.ID, "auth0|"), "isSocial": false}},
	}
	for k, v := range map[string]string{"given_name": u.Profile.GivenName, "family_name": u.Profile.FamilyName, "picture": u.Profile.Picture, "username": u.Username, "phone_number": u.PhoneNumber} {
		if v != "" {
			obj[k] = v
		}
	}
	if obj["app_metadata"] == nil {
		obj["app_metadata"] = map[string]any{}
	}
	if obj["user_metadata"] == nil {
		obj["user_metadata"] = map[string]any{}
	}
	return obj
}

// issueUserTokens signs the access token and, with openid, the ID token;
// with offline_access and a client allowed refresh tokens, a refresh token.
func (s *Server) issueUserTokens(ctx context.Context, client identity.Client, u identity.User, d GrantDetails, gty string) (TokenResponse, error) {
	now := s.now()
	resp := TokenResponse{TokenType: "Bearer", ExpiresIn: int(AccessTokenLifetime.Seconds()), Scope: d.Scope}
	var idErr error
	var signed sync.WaitGroup
	if hasScope(d.Scope, "openid") {
		// An RSA signature is the costliest step of a login after the
		// password hash: the two tokens are signed side by side.
		signed.Go(func() { resp.IDToken, idErr = s.sign(ctx, s.idClaims(client, u, d, now)) })
	}
	var err error
	resp.AccessToken, err = s.sign(ctx, s.accessClaims(client, u, d, gty, now))
	signed.Wait()
	if err = errors.Join(err, idErr); err != nil {
		return TokenResponse{}, err
	}
	if hasScope(d.Scope, "offline_access") && client.HasGrantType("refresh_token") {
		if resp.RefreshToken, err = s.newRefreshToken(ctx, client, u.ID, d, ""); err != nil {
			return TokenResponse{}, err
		}
	}
	return resp, nil
}

// accessClaims are the claims of a user's access token for d.
func (s *Server) accessClaims(client identity.Client, u identity.User, d GrantDetails, gty string, now time.Time) map[string]any {
	aud := jwt.Audience{}
	if d.Audience != "" {
		aud = append(aud, d.Audience)
	}
	if hasScope(d.Scope, "openid") || len(aud) == 0 {
		aud = append(aud, s.issuer+"userinfo")
	}
	access := map[string]any{}
	maps.Copy(access, d.AccessClaims)
	maps.Copy(access, map[string]any{
		"iss": s.issuer, "sub": u.ID, "aud": aud, "iat": now.Unix(), "exp": now.Add(AccessTokenLifetime).Unix(),
		"scope": d.Scope, "azp": client.ClientID, "gty": gty,
	})
	if gty == "" {
		delete(access, "gty")
	}
	return access
}

// idClaims are the claims of a user's ID token for d.
func (s *Server) idClaims(client identity.Client, u identity.User, d GrantDetails, now time.Time) map[string]any {
	id := map[string]any{}
	maps.Copy(id, d.IDClaims)
	maps.Copy(id, profileClaims(u, d.Scope))
	maps.Copy(id, map[string]any{"iss": s.issuer, "sub": u.ID, "aud": client.ClientID, "iat": now.Unix(),
		"exp": now.Add(time.Duration(client.JWTConfiguration.LifetimeInSeconds) * time.Second).Unix()})
	if d.Nonce != "" {
		id["nonce"] = d.Nonce
	}
	if d.AuthTime != 0 {
		id["auth_time"] = d.AuthTime
	}
	return id
}

// newRefreshToken stores a refresh token for d, the first of a new line
// (a login) or, when family is set, the next of that line (a rotation). It
// expires at the end of the line (the client's absolute lifetime from the
// login) or after the client's idle lifetime, whichever comes first.
func (s *Server) newRefreshToken(ctx context.Context, client identity.Client, userID string, d GrantDetails, family string) (string, error) {
	token, g := refreshGrant(client, userID, d, family, s.now())
	if err := s.store.CreateGrant(ctx, g); err != nil {
		return "", fmt.Errorf("store refresh token: %w", err)
	}
	return token, nil
}

// refreshGrant makes a refresh token for d at now, and the grant that
// stores it: the first of a new line when family is "", else the next of
// that line.
func refreshGrant(client identity.Client, userID string, d GrantDetails, family string, now time.Time) (string, Grant) {
	absolute, _ := client.RefreshTokens().Lifetimes()
	if family == "" && absolute > 0 {
		d.LineEnds = now.Add(absolute).UnixMilli()
	}
	token, hash := randomToken()
	return token, Grant{ID: hash, Kind: GrantRefresh, ClientID: client.ClientID, UserID: userID, Details: d,
		CreatedAt: now, ExpiresAt: refreshExpiry(client, d, now), Family: cmp.Or(family, hash)}
}

// sign signs claims with the current key.
func (s *Server) sign(ctx context.Context, claims any) (string, error) {
	tok, err := jwt.Signed(s.keys.Set(ctx).signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

// profileClaims are the OpenID Connect claims the scope asks for.
func profileClaims(u identity.User, scope string) map[string]any {
	c := map[string]any{}
	if hasScope(scope, "profile") {
		c["name"], c["nickname"], c["updated_at"] = u.Profile.Name, u.Profile.Nickname, u.UpdatedAt.UTC().Format(time.RFC3339Nano)
		for k, v := range map[string]string{"given_name": u.Profile.GivenName, "family_name": u.Profile.FamilyName, "picture": u.Profile.Picture} {
			if v != "" {
				c[k] = v
			}
		}
	}
	if hasScope(scope, "email") {
		c["email"], c["email_verified"] = u.Email, u.EmailVerified
	}
	return c
}

// ExchangeCode is the authorization_code grant, with PKCE for public clients.
func (s *Server) ExchangeCode(ctx context.Context, l Login, code, verifier string) (TokenResponse, error) {
	if code == "" {
		return TokenResponse{}, &Error{400, "invalid_request", "Missing required parameter: code"}
	}
	client, err := s.client(ctx, l.ClientID, l.ClientSecret, "authorization_code")
	if err != nil {
		return TokenResponse{}, err
	}
	bad := &Error{403, "invalid_grant", "Invalid authorization code"}
	g, err := s.store.Grant(ctx, hashToken(code))
	if errors.Is(err, errs.ErrNotFound) || (err == nil && (g.Kind != GrantCode || g.ClientID != client.ClientID)) {
		return TokenResponse{}, bad
	} else if err != nil {
		return TokenResponse{}, err
	}
	if g.Details.RedirectURI != "" && l.RedirectURI != g.Details.RedirectURI {
		return TokenResponse{}, &Error{403, "invalid_grant", "redirect_uri does not match the one of the authorization request"}
	}
	if err := checkPKCE(g.Details, verifier, client); err != nil {
		return TokenResponse{}, err
	}
	if err := s.store.UseGrant(ctx, g.ID, s.now()); errors.Is(err, errs.ErrNotFound) {
		return TokenResponse{}, bad // used already, or expired
	} else if err != nil {
		return TokenResponse{}, err
	}
	u, err := s.grantUser(ctx, g, bad)
	if err != nil {
		return TokenResponse{}, err
	}
	return s.issueUserTokens(ctx, client, u, g.Details, "")
}

// grantUser is the user a code or refresh token was given to, who must
// still exist and have the password the login proved (else bad), and not
// be blocked.
func (s *Server) grantUser(ctx context.Context, g Grant, bad *Error) (identity.User, error) {
	u, err := s.ids.User(ctx, g.UserID)
	if errs.KindOf(err) == errs.KindNotFound {
		return u, bad
	} else if err != nil {
		return u, err
	}
	if u.Blocked {
		return u, &Error{401, "unauthorized", "user is blocked"}
	}
	if !sameAsStamp(g.Details.PasswordStamp, u) {
		return u, bad
	}
	return u, nil
}

func checkPKCE(d GrantDetails, verifier string, client identity.Client) error {
	if d.CodeChallenge == "" {
		if client.TokenEndpointAuthMethod == "none" {
			return &Error{403, "invalid_grant", "A public client must use PKCE."}
		}
		return nil
	}
	got := verifier
	if d.CodeChallengeMethod == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if verifier == "" || subtle.ConstantTimeCompare([]byte(got), []byte(d.CodeChallenge)) != 1 {
		return &Error{403, "invalid_grant", "Failed to verify code verifier"}
	}
	return nil
}

// Refresh is the refresh_token grant: new tokens for the same scope (or less).
func (s *Server) Refresh(ctx context.Context, l Login, token string) (TokenResponse, error) {
	client, err := s.client(ctx, l.ClientID, l.ClientSecret, "refresh_token")
	if err != nil {
		return TokenResponse{}, err
	}
	bad := &Error{403, "invalid_grant", "Unknown or invalid refresh token."}
	g, err := s.store.Grant(ctx, hashToken(token))
	if errors.Is(err, errs.ErrNotFound) || (err == nil && (g.Kind != GrantRefresh || g.ClientID != client.ClientID || !s.now().Before(g.ExpiresAt))) {
		return TokenResponse{}, bad
	} else if err != nil {
		return TokenResponse{}, err
	}
	policy := client.RefreshTokens()
	var next string // the line's next token, when the client rotates them
	if policy.RotationType == "rotating" {
		next, err = s.rotate(ctx, client, g, time.Duration(policy.Leeway)*time.Second)
		if errors.Is(err, errs.ErrNotFound) {
			return TokenResponse{}, bad // revoked meanwhile, by a reuse or a password change
		} else if errors.Is(err, errReused) {
			if err := s.ids.LogRefreshTokenReuse(ctx, g.UserID, client.ClientID, l.Who); err != nil {
				return TokenResponse{}, err
			}
			return TokenResponse{}, bad
		} else if err != nil {
			return TokenResponse{}, err
		}
	} else if !g.UsedAt.IsZero() {
		return TokenResponse{}, bad // rotated before the client stopped rotating
	} else if _, idle := policy.Lifetimes(); idle > 0 {
		// Each use starts the token's idle lifetime again.
		if err := s.store.ExtendGrant(ctx, g.ID, refreshExpiry(client, g.Details, s.now())); errors.Is(err, errs.ErrNotFound) {
			return TokenResponse{}, bad
		} else if err != nil {
			return TokenResponse{}, err
		}
	}
	u, err := s.grantUser(ctx, g, bad)
	if err != nil {
		return TokenResponse{}, err
	}
	d := g.Details
	if l.Scope != "" {
		for _, sc := range strings.Fields(l.Scope) {
			if !hasScope(g.Details.Scope, sc) {
				return TokenResponse{}, &Error{403, "invalid_scope", "The scope " + sc + " was not granted."}
			}
		}
		d.Scope = normalizeScope(l.Scope)
	}
	d.Nonce = ""
	resp, err := s.issueUserTokens(ctx, client, u, withoutOffline(d), "")
	resp.RefreshToken = next
	return resp, err
}

// refreshExpiry is when a refresh token for d used at now expires: at the
// end of its line or after the client's idle lifetime, whichever is first.
func refreshExpiry(client identity.Client, d GrantDetails, now time.Time) time.Time {
	_, idle := client.RefreshTokens().Lifetimes()
	expires := now.AddDate(100, 0, 0) // never, in practice
	if d.LineEnds != 0 {
		expires = time.UnixMilli(d.LineEnds)
	}
	if idle > 0 && now.Add(idle).Before(expires) {
		expires = now.Add(idle)
	}
	return expires
}

// errReused is a rotated refresh token used again past the leeway.
var errReused = errors.New("a rotated refresh token was used again: every token of its line is revoked")

// rotate takes back a rotating refresh token as it is used and returns the
// next token of its line, which keeps the scope the login granted; the two
// are one transaction, so a process that dies between them loses neither.
// A token used before, past the client's leeway, was stolen or leaked (its
// rightful holder moved on to the next one): the whole line is revoked, and
// the answer is errReused. A token gone meanwhile is errs.ErrNotFound.
func (s *Server) rotate(ctx context.Context, client identity.Client, g Grant, leeway time.Duration) (string, error) {
	now := s.now()
	token, next := refreshGrant(client, g.UserID, g.Details, g.Family, now)
	err := s.store.RotateGrant(ctx, g.ID, now, next)
	if !errors.Is(err, errs.ErrNotFound) {
		return token, err
	}
	// Used already (perhaps this very moment, by a concurrent request).
	if g, err = s.store.Grant(ctx, g.ID); err != nil {
		return "", err
	}
	if !g.UsedAt.IsZero() && now.Sub(g.UsedAt) <= leeway {
		return token, s.store.CreateGrant(ctx, next) // a retry: a second next token
	}
	if err := s.store.DeleteGrantFamily(ctx, g.Family); err != nil {
		return "", err
	}
	return "", errReused
}

// withoutOffline keeps a refresh from minting another refresh token.
func withoutOffline(d GrantDetails) GrantDetails {
	var kept []string
	for _, sc := range strings.Fields(d.Scope) {
		if sc != "offline_access" {
			kept = append(kept, sc)
		}
	}
	d.Scope = strings.Join(kept, " ")
	return d
}

// UserInfo returns the OpenID Connect claims of the user an access token
// was issued to, as its scope allows.
func (s *Server) UserInfo(ctx context.Context, raw string) (map[string]any, error) {
	c, err := s.VerifyAccessToken(raw, s.issuer+"userinfo")
	if err != nil {
		return nil, &Error{401, "invalid_token", err.Error()}
	}
	u, err := s.ids.User(ctx, c.Subject)
	if errs.KindOf(err) == errs.KindNotFound {
		return nil, &Error{401, "invalid_token", "The user no longer exists."}
	} else if err != nil {
		return nil, err
	}
	if u.Blocked {
		return nil, &Error{401, "invalid_token", "user is blocked"}
	}
	claims := profileClaims(u, c.Scope)
	claims["sub"] = u.ID
	return claims, nil
}

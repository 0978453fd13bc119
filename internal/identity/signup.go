package identity

import (
	"context"
	"errors"

	"github.com/usherid/usher/internal/errs"
)

// SignupRequest is the body of POST /dbconnections/signup.
type SignupRequest struct {
	ClientID     string            `json:"client_id"`
	Email        string            `json:"email"`
	Password     string            `json:"password"`
	Connection   string            `json:"connection"`
	Username     string            `json:"username"`
	GivenName    string            `json:"given_name"`
	FamilyName   string            `json:"family_name"`
	Name         string            `json:"name"`
	Nickname     string            `json:"nickname"`
	Picture      string            `json:"picture"`
	UserMetadata map[string]string `json:"user_metadata"`
}

// ErrSignupDisabled is the answer when the connection takes no public sign-ups.
var ErrSignupDisabled = errs.Denied("operation_not_allowed", "Public signup is disabled")

// SignupAllowed reports whether a connection takes public sign-ups.
func (s *Service) SignupAllowed(ctx context.Context, connection string) bool {
	c, err := s.conns.get(ctx, s.store, connection, s.now())
	return err == nil && !c.DisableSignup()
}

// Signup creates an account for someone who signs up themselves, unless the
// connection has disable_signup: then people get in by invitation only.
func (s *Service) Signup(ctx context.Context, r SignupRequest, who Requester) (User, error) {
	now := s.now().UTC()
	event := LogEvent{Type: "fs", ClientID: r.ClientID, Connection: r.Connection, IP: who.IP, UserAgent: who.UserAgent, UserName: r.Email}
	fail := func(err error) (User, error) {
		event.Description = err.Error()
		return User{}, errors.Join(err, s.log(ctx, s.store, event, now))
	}
	if r.Connection == "" {
		return User{}, errs.Invalid("invalid_request", "Missing required parameter: connection")
	}
	if !s.SignupAllowed(ctx, r.Connection) {
		return fail(ErrSignupDisabled)
	}
	if r.Password == "" {
		return User{}, errs.Invalid("invalid_password", "Missing required parameter: password")
	}
	if len(r.UserMetadata) > 10 {
		return User{}, errs.Invalid("invalid_request", "user_metadata takes at most 10 properties")
	}
	meta := map[string]any{}
	for k, v := range r.UserMetadata {
		if len(v) > 500 {
			return User{}, errs.Invalid("invalid_request", "user_metadata values are at most 500 characters")
		}
		meta[k] = v
	}
	// The pre-user-registration Actions may refuse the sign-up or add metadata.
	outcome, err := s.trigger(ctx, "pre-user-registration", map[string]any{
		"user":       map[string]any{"email": r.Email, "username": r.Username, "name": r.Name, "user_metadata": meta, "app_metadata": map[string]any{}},
		"connection": map[string]any{"name": r.Connection, "strategy": "auth0"},
		"client":     map[string]any{"client_id": r.ClientID},
		"request":    map[string]any{"ip": who.IP, "user_agent": who.UserAgent},
	})
	switch {
	case err != nil:
		return fail(errs.Invalid("invalid_signup", "The sign-up was stopped by a pre-user-registration action: %v", err))
	case outcome.Denied != "":
		return fail(errs.Invalid("invalid_signup", "%s", outcome.Denied))
	}
	app := map[string]any{}
	if len(outcome.UserMetadata) > 0 { // an empty change would clear everything
		meta = mergeMetadata(meta, outcome.UserMetadata)
	}
	if len(outcome.AppMetadata) > 0 {
		app = mergeMetadata(app, outcome.AppMetadata)
	}
	u, err := s.CreateUser(ctx, NewUser{Connection: r.Connection, Email: r.Email, Password: r.Password, Username: r.Username,
		GivenName: r.GivenName, FamilyName: r.FamilyName, Name: r.Name, Nickname: r.Nickname, Picture: r.Picture,
		UserMetadata: meta, AppMetadata: app})
	var de *errs.Error
	switch {
	case errors.As(err, &de) && de.Kind == errs.KindConflict:
		return fail(errs.Invalid("invalid_signup", "Invalid sign up"))
	case errors.As(err, &de) && de.Code == "password_strength_error":
		return fail(errs.Invalid("invalid_password", "PasswordStrengthError: Password is too weak"))
	case err != nil:
		return User{}, err
	}
	event.Type, event.UserID, event.Description = "ss", u.ID, "Successful signup"
	return u, s.log(ctx, s.store, event, now)
}

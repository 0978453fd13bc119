package identity

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/outbox"
)

var errNoUser = errs.NotFound("inexistent_user", "The user does not exist.")

// PrepareUser validates in against its connection's rules and returns the
// user to store, its password hashed, with its connection. It stores
// nothing: CreateUser stores one user, an import a batch of them.
func (s *Service) PrepareUser(ctx context.Context, in NewUser) (User, Connection, error) {
	if in.Connection == "" {
		return User{}, Connection{}, errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: connection'.")
	}
	conn, err := s.conns.get(ctx, s.store, in.Connection, s.now())
	if errors.Is(err, errs.ErrNotFound) {
		return User{}, Connection{}, errs.Invalid("inexistent_connection", "The connection does not exist.")
	} else if err != nil {
		return User{}, Connection{}, err
	}
	if in.Email == "" {
		return User{}, Connection{}, errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: email'.")
	}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return User{}, Connection{}, err
	}
	if err := checkUsername(conn, in.Username, true); err != nil {
		return User{}, Connection{}, err
	}
	if err := CheckMetadata(in.AppMetadata, in.UserMetadata); err != nil {
		return User{}, Connection{}, err
	}
	profile := Profile{Name: in.Name, Nickname: in.Nickname, GivenName: in.GivenName, FamilyName: in.FamilyName, Picture: in.Picture}
	if err := profile.validate(); err != nil {
		return User{}, Connection{}, err
	}
	if profile.Name == "" {
		profile.Name = email
	}
	if profile.Nickname == "" {
		profile.Nickname = email[:strings.Index(email, "@")]
	}
	id := NewUserID()
	if in.UserID != "" {
		if len(in.UserID) > 255 || strings.IndexFunc(in.UserID, unicode.IsSpace) >= 0 {
			return User{}, Connection{}, errs.Invalid("invalid_body", "Payload validation error: 'user_id must be 1 to 255 characters without white space' on property user_id.")
		}
		id = "auth0|" + strings.TrimPrefix(in.UserID, "auth0|")
	}
	now := s.now().UTC()
	u := User{
		ID: id, ConnectionID: conn.ID, Connection: conn.Name, Email: email, EmailVerified: in.EmailVerified,
		Username: in.Username, PhoneNumber: in.PhoneNumber, PhoneVerified: in.PhoneVerified, Blocked: in.Blocked,
		Profile: profile, AppMetadata: orEmpty(in.AppMetadata), UserMetadata: orEmpty(in.UserMetadata),
		CreatedAt: now, UpdatedAt: now,
	}
	if in.Password != "" {
		if err := conn.PasswordPolicy().Check(in.Password); err != nil {
			return User{}, Connection{}, err
		}
		if u.PasswordHash, err = s.passwords.Hash(ctx, in.Password); err != nil {
			return User{}, Connection{}, err
		}
	}
	return u, conn, nil
}

// CreateUser validates in against its connection's rules and stores the new user.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (User, error) {
	u, conn, err := s.PrepareUser(ctx, in)
	if err != nil {
		return User{}, err
	}
	now := u.CreatedAt
	// As in Auth0, a user whose email is not verified gets the verify_email
	// mail unless the request says verify_email: false.
	var verify *verification
	if !in.EmailVerified && (in.VerifyEmail == nil || *in.VerifyEmail) {
		if verify, err = s.prepareVerification(ctx, u, conn.Name, now); err != nil {
			return User{}, err
		}
	}
	create := func(st Store) error {
		if err := st.CreateUser(ctx, u); errors.Is(err, errs.ErrDuplicate) {
			return errs.Conflict("auth0_idp_error", "The user already exists.")
		} else if err != nil {
			return err
		}
		return verify.store(ctx, s, st, u, now)
	}
	if verify == nil {
		err = create(s.store) // one statement: no transaction needed
	} else {
		err = s.store.Atomic(ctx, create)
	}
	if err != nil {
		return User{}, err
	}
	if verify != nil {
		s.mailQueued()
	}
	return u, nil
}

// verification is a verify_email mail and its link, ready to be stored.
type verification struct {
	id   string
	spec ticketSpec
	mail outbox.Mail
}

// prepareVerification renders the verify_email mail for u, or returns nil
// when the tenant disabled that template.
func (s *Service) prepareVerification(ctx context.Context, u User, connection string, now time.Time) (*verification, error) {
	settings, err := s.composer.Settings(ctx, "verify_email")
	if err != nil || !settings.Enabled {
		return nil, err
	}
	token, id := newTicketToken()
	v := &verification{id: id, spec: ticketSpec{kind: TicketEmailVerification, resultURL: settings.ResultURL,
		ttl: orDefault(settings.URLLifetime, defaultTicketLifetime), includeEmail: settings.IncludeEmail}}
	if v.mail, err = s.compose(ctx, "verify_email", u, linkMail{url: s.ticketLink(TicketEmailVerification, token), expires: now.Add(v.spec.ttl)}, nil, connection, now); err != nil {
		return nil, err
	}
	return v, nil
}

// store writes the link and queues the mail; a nil verification does nothing.
func (v *verification) store(ctx context.Context, s *Service, st mailedLinkStore, u User, now time.Time) error {
	if v == nil {
		return nil
	}
	if err := s.newTicket(ctx, st, u, v.spec, v.id, now); err != nil {
		return err
	}
	return st.EnqueueMail(ctx, v.mail)
}

func checkUsername(conn Connection, username string, creating bool) error {
	if username == "" {
		if creating && conn.RequiresUsername() {
			return errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: username'.")
		}
		return nil
	}
	if !conn.RequiresUsername() {
		return errs.Invalid("invalid_body", "Cannot set username for connection without requires_username")
	}
	return checkLength("username", username, 1, 128)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// User returns the user with id.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	u, err := s.store.User(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return User{}, errNoUser
	}
	return u, err
}

// Users returns a page of users matching q and, when asked, the total.
func (s *Service) Users(ctx context.Context, q UserQuery) ([]User, int, error) {
	return s.store.Users(ctx, q)
}

// UsersByEmail returns every user with that email, in any connection.
func (s *Service) UsersByEmail(ctx context.Context, email string) ([]User, error) {
	return s.store.UsersByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
}

// DeleteUser removes a user; removing a user who is not there is not an error.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	if err := s.store.DeleteUser(ctx, id); err != nil && !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	return nil
}

// UpdateUser applies p with Auth0's rules: metadata merges one level deep,
// other attributes are replaced, a null resets an attribute.
func (s *Service) UpdateUser(ctx context.Context, id string, p UserPatch) (User, error) {
	switch {
	case p.Password.Set && (p.Email.Set || p.EmailVerified.Set):
		return User{}, errs.Invalid("invalid_body", "Cannot update password and email or email_verified simultaneously")
	case p.Username.Set && (p.Email.Set || p.EmailVerified.Set || p.Password.Set):
		return User{}, errs.Invalid("invalid_body", "Cannot update username and email, email_verified or password simultaneously")
	}
	if err := CheckMetadata(p.AppMetadata.V, p.UserMetadata.V); err != nil {
		return User{}, err
	}
	// The new password is hashed before the transaction: a hash takes tens
	// of milliseconds and may wait for a slot, too long to hold a write lock.
	var hash string
	if p.Password.Set {
		var err error
		if hash, err = s.hashNewPassword(ctx, id, p.Password.V); err != nil {
			return User{}, err
		}
	}
	var out User
	err := s.store.Atomic(ctx, func(st Store) error {
		u, err := st.User(ctx, id)
		if errors.Is(err, errs.ErrNotFound) {
			return errNoUser
		} else if err != nil {
			return err
		}
		now := s.now().UTC()
		// The connection's rules are read without holding its row, which
		// every change to one of its users would otherwise wait for.
		conn, err := s.conns.get(ctx, st, u.Connection, now)
		if err != nil {
			return err
		}
		if p.Connection.Set && p.Connection.V != conn.Name {
			return errs.Invalid("invalid_body", "The user does not belong to connection %q.", p.Connection.V)
		}
		oldEmail := u.Email
		if err := applyUserPatch(&u, conn, p, hash, now); err != nil {
			return err
		}
		u.UpdatedAt = now
		if err := st.UpdateUser(ctx, u); errors.Is(err, errs.ErrDuplicate) {
			return errs.Conflict("auth0_idp_error", "The specified new email already exists")
		} else if err != nil {
			return err
		}
		out = u
		// A new password ends every login made with the old one. Blocking
		// does too: an account blocked because it was taken over must not
		// come back with the taker's sessions when it is unblocked.
		if p.Password.Set || (p.Blocked.Set && p.Blocked.V) {
			if err := st.RevokeLogins(ctx, u.ID); err != nil {
				return err
			}
		}
		if u.Email == oldEmail {
			return nil
		}
		return s.log(ctx, st, LogEvent{Type: "sce", Description: "Email changed from " + oldEmail, UserID: u.ID, UserName: u.Email, Connection: u.Connection}, now)
	})
	return out, err
}

// hashNewPassword checks pw against the policy of user id's connection and
// hashes it.
func (s *Service) hashNewPassword(ctx context.Context, id, pw string) (string, error) {
	u, err := s.store.User(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return "", errNoUser
	} else if err != nil {
		return "", err
	}
	conn, err := s.store.Connection(ctx, u.ConnectionID)
	if err != nil {
		return "", err
	}
	if err := conn.PasswordPolicy().Check(pw); err != nil {
		return "", err
	}
	return s.passwords.Hash(ctx, pw)
}

// applyUserPatch applies p to u; hash is p's password, hashed already.
func applyUserPatch(u *User, conn Connection, p UserPatch, hash string, now time.Time) error {
	if p.Email.Set {
		if p.Email.Null {
			return errs.Invalid("invalid_body", "Payload validation error: 'Expected type string but found type null' on property email.")
		}
		email, err := NormalizeEmail(p.Email.V)
		if err != nil {
			return err
		}
		if email != u.Email {
			u.Email, u.EmailVerified = email, false
		}
	}
	if p.EmailVerified.Set {
		u.EmailVerified = p.EmailVerified.V
	}
	if p.Password.Set {
		u.PasswordHash, u.LastPasswordReset = hash, now
	}
	if p.Username.Set {
		if err := checkUsername(conn, p.Username.V, false); err != nil {
			return err
		}
		u.Username = p.Username.V
	}
	setString := func(dst *string, o Opt[string]) {
		if o.Set {
			*dst = o.V
		}
	}
	setString(&u.PhoneNumber, p.PhoneNumber)
	setString(&u.Profile.Name, p.Name)
	setString(&u.Profile.Nickname, p.Nickname)
	setString(&u.Profile.GivenName, p.GivenName)
	setString(&u.Profile.FamilyName, p.FamilyName)
	setString(&u.Profile.Picture, p.Picture)
	if err := u.Profile.validate(); err != nil {
		return err
	}
	if p.PhoneVerified.Set {
		u.PhoneVerified = p.PhoneVerified.V
	}
	if p.Blocked.Set {
		u.Blocked = p.Blocked.V
	}
	if p.AppMetadata.Set {
		u.AppMetadata = mergeMetadata(u.AppMetadata, p.AppMetadata.V)
	}
	if p.UserMetadata.Set {
		u.UserMetadata = mergeMetadata(u.UserMetadata, p.UserMetadata.V)
	}
	if p.AppMetadata.Set || p.UserMetadata.Set {
		// The merge can grow what is stored past the bound.
		return CheckMetadata(u.AppMetadata, u.UserMetadata)
	}
	return nil
}

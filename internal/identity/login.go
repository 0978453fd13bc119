package identity

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/usherid/usher/internal/errs"
)

// MaxFailedLogins is how many wrong passwords for one user from one address
// brute-force protection allows before it blocks that pair, as Auth0 does.
const MaxFailedLogins = 10

// LoginBlock is a user blocked from an address by brute-force protection.
type LoginBlock struct {
	UserID    string
	IP        string
	BlockedAt time.Time
}

// Login errors, each with the OAuth error Auth0 answers with.
var (
	ErrWrongCredentials = errs.Denied("invalid_grant", "Wrong email or password.")
	ErrUserBlocked      = errs.Denied("unauthorized", "user is blocked")
	ErrTooManyAttempts  = errs.Denied("too_many_attempts", "Your account has been blocked after multiple consecutive login attempts. We've sent you an email with instructions on how to unblock it.")
)

// Credentials are a password login: a connection, an email and a password.
type Credentials struct {
	Connection string
	Username   string
	Password   string
	ClientID   string
	Who        Requester
}

// Authenticate checks a password login with brute-force protection: after
// MaxFailedLogins wrong passwords from one address, that user and address
// are blocked until an administrator lifts the block or the password is
// reset. Every outcome is logged (fu, fp, f, limit_wc); the successful login
// is logged by RecordLogin once the login flow completes.
//
// Every answer that says no after the connection is known costs one
// password hash, whatever the reason (unknown email, no password yet, wrong
// password, blocked user), so that its time does not tell which emails have
// an account. Only a pair already blocked by brute-force protection is
// answered without one: that answer names the account anyway, as Auth0's does.
func (s *Service) Authenticate(ctx context.Context, c Credentials) (User, Connection, error) {
	if c.Connection == "" {
		tenant, err := s.tenant(ctx)
		if err != nil {
			return User{}, Connection{}, err
		}
		c.Connection = tenant.DefaultDirectory
	}
	conn, err := s.conns.get(ctx, s.store, c.Connection, s.now())
	if errors.Is(err, errs.ErrNotFound) {
		return User{}, Connection{}, errs.Invalid("invalid_request", "The connection %q does not exist.", c.Connection)
	} else if err != nil {
		return User{}, Connection{}, err
	}
	now := s.now().UTC()
	event := LogEvent{ClientID: c.ClientID, Connection: conn.Name, IP: c.Who.IP, UserAgent: c.Who.UserAgent, UserName: strings.ToLower(c.Username)}
	u, err := s.userInConnection(ctx, c.Username, conn.ID)
	if errors.Is(err, errNoUser) {
		if _, err := s.passwords.Check(ctx, "", c.Password); err != nil {
			return User{}, conn, err
		}
		event.Type, event.Description = "fu", "Wrong email or password."
		return User{}, conn, errors.Join(ErrWrongCredentials, s.log(ctx, s.store, event, now))
	} else if err != nil {
		return User{}, conn, err
	}
	event.UserID = u.ID
	// A hashing slot is taken first and the attempt counted next, before the
	// hash: concurrent guesses cannot all pass a count read before any of
	// them was recorded, and an attempt turned away for want of a slot is
	// never counted.
	slot, err := s.passwords.acquire(ctx)
	if err != nil {
		return User{}, conn, err
	}
	guarded := conn.BruteForceProtection()
	attempt := 0
	if guarded {
		if attempt, err = s.store.ReserveLoginAttempt(ctx, u.ID, c.Who.IP, now, MaxFailedLogins); err != nil {
			slot()
			return User{}, conn, err
		} else if attempt == 0 {
			slot()
			event.Type, event.Description = "f", "Blocked by brute-force protection."
			return User{}, conn, errors.Join(ErrTooManyAttempts, s.log(ctx, s.store, event, now))
		}
	}
	ok := s.passwords.checkHeld(u.PasswordHash, c.Password)
	slot()
	if !ok {
		event.Type, event.Description = "fp", "Wrong email or password."
		err := s.store.Atomic(ctx, func(st Store) error {
			if err := s.log(ctx, st, event, now); err != nil {
				return err
			}
			if attempt == MaxFailedLogins {
				return s.log(ctx, st, LogEvent{Type: "limit_wc", Description: "Too many failed logins for this user from this address.",
					UserID: u.ID, UserName: u.Email, Connection: conn.Name, IP: c.Who.IP, UserAgent: c.Who.UserAgent}, now)
			}
			return nil
		})
		return User{}, conn, errors.Join(ErrWrongCredentials, err)
	}
	// Auth0 says a user is blocked only to someone who knows the password.
	if u.Blocked {
		event.Type, event.Description = "f", "user is blocked"
		var release error
		if guarded { // the password was right: not a failure to count
			release = s.store.ReleaseLoginAttempt(ctx, u.ID, c.Who.IP, MaxFailedLogins)
		}
		return User{}, conn, errors.Join(ErrUserBlocked, release, s.log(ctx, s.store, event, now))
	}
	if err := s.store.ClearLoginFailures(ctx, u.ID, c.Who.IP); err != nil {
		return User{}, conn, err
	}
	return u, conn, nil
}

// LoginChanges are what the post-login flow decided: metadata keys to set
// (a nil value removes the key).
type LoginChanges struct {
	AppMetadata  map[string]any
	UserMetadata map[string]any
}

// RecordLogin completes a successful login: it applies the post-login
// Actions' metadata changes once, counts the login and logs it (s).
func (s *Service) RecordLogin(ctx context.Context, userID, clientID string, ch LoginChanges, who Requester) (User, error) {
	var out User
	now := s.now().UTC()
	err := s.store.Atomic(ctx, func(st Store) error {
		u, err := st.User(ctx, userID)
		if err != nil {
			return err
		}
		if len(ch.AppMetadata) > 0 || len(ch.UserMetadata) > 0 {
			// What Actions hand over is checked before it is merged (it
			// may even contain itself) and the result after.
			if err := CheckMetadata(ch.AppMetadata, ch.UserMetadata); err != nil {
				return err
			}
			if len(ch.AppMetadata) > 0 {
				u.AppMetadata = mergeMetadata(u.AppMetadata, ch.AppMetadata)
			}
			if len(ch.UserMetadata) > 0 {
				u.UserMetadata = mergeMetadata(u.UserMetadata, ch.UserMetadata)
			}
			if err := CheckMetadata(u.AppMetadata, u.UserMetadata); err != nil {
				return err
			}
		}
		u.LoginsCount++
		u.LastLogin, u.LastIP, u.UpdatedAt = now, who.IP, now
		if err := st.UpdateUser(ctx, u); err != nil {
			return err
		}
		out = u
		return s.log(ctx, st, LogEvent{Type: "s", Description: "Successful login", UserID: u.ID, UserName: u.Email,
			Connection: u.Connection, ClientID: clientID, IP: who.IP, UserAgent: who.UserAgent}, now)
	})
	return out, err
}

// LogFailedLogin records a login that failed after the password was right,
// for example because a post-login Action denied it.
func (s *Service) LogFailedLogin(ctx context.Context, u User, clientID, reason string, who Requester) error {
	return s.log(ctx, s.store, LogEvent{Type: "f", Description: reason, UserID: u.ID, UserName: u.Email,
		Connection: u.Connection, ClientID: clientID, IP: who.IP, UserAgent: who.UserAgent}, s.now().UTC())
}

// LogRefreshTokenReuse records a rotated refresh token used again, which
// revoked every token of its line (Auth0's event "ferrt").
func (s *Service) LogRefreshTokenReuse(ctx context.Context, userID, clientID string, who Requester) error {
	return s.log(ctx, s.store, LogEvent{Type: "ferrt", Description: "A rotated refresh token was used again: every refresh token of its login is revoked",
		UserID: userID, ClientID: clientID, IP: who.IP, UserAgent: who.UserAgent}, s.now().UTC())
}

// UserBlocks returns the addresses a user is blocked from.
func (s *Service) UserBlocks(ctx context.Context, userID string) ([]LoginBlock, error) {
	if _, err := s.User(ctx, userID); err != nil {
		return nil, err
	}
	return s.store.LoginBlocks(ctx, userID, MaxFailedLogins)
}

// UnblockUser lifts every brute-force block of a user.
func (s *Service) UnblockUser(ctx context.Context, userID string) error {
	if _, err := s.User(ctx, userID); err != nil {
		return err
	}
	return s.store.ClearLoginFailures(ctx, userID, "")
}

// LogActionOutput keeps what an Action printed with console.log in the
// tenant log, as one event (Usher's type "actions_console").
func (s *Service) LogActionOutput(ctx context.Context, u User, clientID, trigger string, lines []string) error {
	return s.log(ctx, s.store, LogEvent{Type: "actions_console", Description: "Console output of the " + trigger + " Actions",
		UserID: u.ID, UserName: u.Email, ClientID: clientID, Connection: u.Connection,
		Details: map[string]any{"trigger": trigger, "lines": lines}}, s.now().UTC())
}

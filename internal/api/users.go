package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// auth0Time is how Auth0 writes times: UTC with milliseconds.
const auth0Time = "2006-01-02T15:04:05.000Z"

type identityJSON struct {
	Connection string `json:"connection"`
	UserID     string `json:"user_id"`
	Provider   string `json:"provider"`
	IsSocial   bool   `json:"isSocial"`
}

// userJSON is a user as the Management API shows it.
type userJSON struct {
	UserID            string         `json:"user_id"`
	Email             string         `json:"email"`
	EmailVerified     bool           `json:"email_verified"`
	Username          string         `json:"username,omitempty"`
	PhoneNumber       string         `json:"phone_number,omitempty"`
	PhoneVerified     bool           `json:"phone_verified,omitempty"`
	Name              string         `json:"name,omitempty"`
	Nickname          string         `json:"nickname,omitempty"`
	GivenName         string         `json:"given_name,omitempty"`
	FamilyName        string         `json:"family_name,omitempty"`
	Picture           string         `json:"picture,omitempty"`
	CreatedAt         string         `json:"created_at"`
	UpdatedAt         string         `json:"updated_at"`
	Identities        []identityJSON `json:"identities"`
	AppMetadata       map[string]any `json:"app_metadata"`
	UserMetadata      map[string]any `json:"user_metadata"`
	Blocked           bool           `json:"blocked,omitempty"`
	LastLogin         string         `json:"last_login,omitempty"`
	LastIP            string         `json:"last_ip,omitempty"`
	LastPasswordReset string         `json:"last_password_reset,omitempty"`
	LoginsCount       int64          `json:"logins_count"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(auth0Time)
}

func toUserJSON(u identity.User) any {
	return userJSON{
		UserID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Username: u.Username,
		PhoneNumber: u.PhoneNumber, PhoneVerified: u.PhoneVerified,
		Name: u.Profile.Name, Nickname: u.Profile.Nickname, GivenName: u.Profile.GivenName,
		FamilyName: u.Profile.FamilyName, Picture: u.Profile.Picture,
		CreatedAt: formatTime(u.CreatedAt), UpdatedAt: formatTime(u.UpdatedAt),
		Identities:  []identityJSON{{Connection: u.Connection, UserID: strings.TrimPrefix(u.ID, "auth0|"), Provider: "auth0"}},
		AppMetadata: u.AppMetadata, UserMetadata: u.UserMetadata, Blocked: u.Blocked,
		LastLogin: formatTime(u.LastLogin), LastIP: u.LastIP, LastPasswordReset: formatTime(u.LastPasswordReset),
		LoginsCount: u.LoginsCount,
	}
}

func handleCreateUser(ids *identity.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, in identity.NewUser) (any, error) {
		u, err := ids.CreateUser(r.Context(), in)
		return toUserJSON(u), err
	})
}

func handleGetUser(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		u, err := ids.User(r.Context(), r.PathValue("id"))
		return selection(r).apply(toUserJSON(u)), err
	})
}

func handleUpdateUser(ids *identity.Service) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, p identity.UserPatch) (any, error) {
		// update:users_app_metadata alone may change metadata and nothing else.
		if !claimsFrom(r.Context()).HasAnyScope("update:users") && !p.OnlyMetadata() {
			return nil, errs.Denied("insufficient_scope", "Insufficient scope, expected any of: update:users")
		}
		u, err := ids.UpdateUser(r.Context(), r.PathValue("id"), p)
		return toUserJSON(u), err
	})
}

func handleDeleteUser(ids *identity.Service) http.Handler {
	return deleted(ids.DeleteUser)
}

func handleListUsers(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		q := r.URL.Query()
		pg, err := readPaging(r, 50)
		if err != nil {
			return nil, err
		}
		uq := identity.UserQuery{Page: pg.Page, PerPage: pg.PerPage, IncludeTotals: pg.IncludeTotals}
		if uq.Filter, err = identity.ParseUserSearch(q.Get("q")); err != nil {
			return nil, err
		}
		if c := q.Get("connection"); c != "" {
			uq.Filter.Terms = append(uq.Filter.Terms, identity.Term{Field: "identities.connection", Value: c})
		}
		if s := q.Get("sort"); s != "" {
			field, dir, _ := strings.Cut(s, ":")
			if dir != "1" && dir != "-1" {
				return nil, errs.Invalid("invalid_query_string", "Query validation error: 'sort must be field:1 or field:-1' on property sort.")
			}
			uq.SortField, uq.SortDesc = field, dir == "-1"
		}
		users, total, err := ids.Users(r.Context(), uq)
		if err != nil {
			return nil, err
		}
		items := selection(r).applyAll(toAny(users, toUserJSON))
		if !pg.IncludeTotals {
			return items, nil
		}
		return map[string]any{"start": pg.Page * pg.PerPage, "limit": pg.PerPage, "length": len(items), "total": total, "users": items}, nil
	})
}

func handleUsersByEmail(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		email := r.URL.Query().Get("email")
		if email == "" {
			return nil, errs.Invalid("invalid_query_string", "Query validation error: 'Missing required property: email'.")
		}
		users, err := ids.UsersByEmail(r.Context(), email)
		return selection(r).applyAll(toAny(users, toUserJSON)), err
	})
}

package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usherid/usher/internal/csrf"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/web"
)

const (
	sessionCookie = "usher_dashboard"
	loginCookie   = "usher_dashboard_login"
	// sessionLifetime is how long a dashboard sign-in lasts; then the
	// administrator signs in again (silently while their login session at
	// the hosted page lasts).
	sessionLifetime = 8 * time.Hour
	maxForm         = 1 << 20
)

// session is a signed-in administrator's request.
type session struct {
	user identity.User
	csrf string
	note string
}

// view is a page view for this session.
func (s *session) view(title, nav, problem string, data any) view {
	v := view{Title: title, Nav: nav, CSRF: s.csrf, Error: problem, Data: data, Flash: notes[s.note]}
	if s.user.ID != "" {
		v.Admin = &s.user
	}
	return v
}

// admin wraps a page for administrators: a signed-in session (else off to
// sign in), the usher:admin permission checked now (else a refusal), and on
// every POST a CSRF token that matches (else a refusal).
func (d *Dashboard) admin(next func(w http.ResponseWriter, r *http.Request, s *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := d.adminSession(w, r)
		if !ok {
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if !d.guard.Check(r, d.session(r)) {
				d.formExpired(w, s)
				return
			}
		}
		next(w, r, s)
	})
}

// upload wraps a multipart form for administrators as admin wraps a page,
// without reading the body into memory: the form's first part must be the
// CSRF token, checked before anything else is read, and next reads the
// parts after it from the stream. The body may be up to limit bytes, and
// take as long as it keeps coming (web.Upload).
func (d *Dashboard) upload(limit int64, next func(w http.ResponseWriter, r *http.Request, s *session, parts *multipart.Reader)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := d.adminSession(w, r)
		if !ok {
			return
		}
		r = web.Upload(w, r, limit, d.stall)
		parts, err := r.MultipartReader()
		if err != nil {
			d.formExpired(w, s)
			return
		}
		first, err := parts.NextPart()
		if status, msg, known := uploadProblem(err); known {
			d.render(w, status, "error", s.view("Nothing was uploaded", "", "Nothing was uploaded: "+msg, nil))
			return
		}
		if err != nil || first.FormName() != csrf.Field {
			d.formExpired(w, s)
			return
		}
		token, err := io.ReadAll(io.LimitReader(first, 256))
		if err != nil || !d.guard.Matches(r, d.session(r), string(token)) {
			d.formExpired(w, s)
			return
		}
		next(w, r, s, parts)
	})
}

// adminSession is the session of an administrator's request; otherwise it
// answers the request itself (off to sign in, or a refusal) and ok is false.
func (d *Dashboard) adminSession(w http.ResponseWriter, r *http.Request) (s *session, ok bool) {
	u, ok := d.sessionUser(r)
	if !ok {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			d.startLogin(w, r, r.URL.RequestURI())
			return nil, false
		}
		d.render(w, http.StatusForbidden, "refused", view{Title: "Signed out", Data: refusal{SignedOut: true}})
		return nil, false
	}
	s = &session{user: u, csrf: d.guard.Token(w, r, d.session(r)), note: r.URL.Query().Get("note")}
	isAdmin, err := d.ids.IsAdmin(r.Context(), u)
	if err != nil {
		d.fail(w, err)
		return nil, false
	}
	if !isAdmin {
		d.render(w, http.StatusForbidden, "refused", view{Title: "Not an administrator", CSRF: s.csrf, Data: refusal{Email: u.Email}})
		return nil, false
	}
	return s, true
}

// formExpired refuses a form without the CSRF token of this browser.
func (d *Dashboard) formExpired(w http.ResponseWriter, s *session) {
	d.render(w, http.StatusForbidden, "error", s.view("Form expired", "",
		"This form expired or did not come from the dashboard. Go back, reload the page and try again.", nil))
}

// refusal is what the refusal page says.
type refusal struct {
	Email     string
	SignedOut bool
}

// session is the request's dashboard session cookie, or "".
func (d *Dashboard) session(r *http.Request) string {
	v, _ := d.jar.Value(r, sessionCookie)
	return v
}

// sessionUser is the person behind the request's dashboard session.
func (d *Dashboard) sessionUser(r *http.Request) (identity.User, bool) {
	session := d.session(r)
	if session == "" {
		return identity.User{}, false
	}
	u, _, ok := d.tokens.SessionUser(r.Context(), session)
	return u, ok
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// login is GET /dashboard/login: it starts a sign-in.
func (d *Dashboard) login() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.startLogin(w, r, r.URL.Query().Get("next"))
	})
}

// startLogin sends the browser to /authorize (code flow with PKCE), keeping
// the state, the verifier and where to go afterwards in a short-lived cookie.
func (d *Dashboard) startLogin(w http.ResponseWriter, r *http.Request, next string) {
	client, err := d.client(r.Context())
	if err != nil {
		d.fail(w, err)
		return
	}
	if !strings.HasPrefix(next, "/dashboard/") || strings.HasPrefix(next, "/dashboard/login") {
		next = "/dashboard/"
	}
	state, verifier := randomString(), randomString()
	sum := sha256.Sum256([]byte(verifier))
	d.jar.Set(w, loginCookie, state+"."+verifier+"."+base64.RawURLEncoding.EncodeToString([]byte(next)), 10*time.Minute, http.SameSiteLaxMode)
	q := url.Values{"response_type": {"code"}, "client_id": {client.ClientID}, "redirect_uri": {d.root + "/callback"},
		"scope": {"openid profile email"}, "state": {state}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, d.base+"/authorize?"+q.Encode(), http.StatusFound)
}

// callback is GET /dashboard/callback: it exchanges the code in-process and
// starts a dashboard session for whoever signed in. Whether they may use
// the dashboard is checked on every request, not here.
func (d *Dashboard) callback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		parts := []string{"", "", ""}
		if v, ok := d.jar.Value(r, loginCookie); ok {
			parts = append(strings.SplitN(v, ".", 3), "", "")[:3]
		}
		d.jar.Clear(w, loginCookie, http.SameSiteLaxMode)
		state, verifier := parts[0], parts[1]
		nextBytes, _ := base64.RawURLEncoding.DecodeString(parts[2])
		next := string(nextBytes)
		if e := q.Get("error"); e != "" {
			d.render(w, http.StatusForbidden, "error", view{Title: "Sign-in stopped", Error: "The sign-in did not complete: " + q.Get("error_description")})
			return
		}
		if state == "" || q.Get("state") != state {
			d.render(w, http.StatusBadRequest, "error", view{Title: "Sign-in expired",
				Error: "This sign-in expired or was started elsewhere. Open the dashboard again to sign in."})
			return
		}
		client, err := d.client(r.Context())
		if err != nil {
			d.fail(w, err)
			return
		}
		tok, err := d.tokens.ExchangeCode(r.Context(), oauth.Login{ClientID: client.ClientID, RedirectURI: d.root + "/callback",
			Who: identity.Requester{IP: web.ClientIP(r), UserAgent: r.UserAgent()}}, q.Get("code"), verifier)
		if err != nil {
			if _, ok := err.(*oauth.Error); ok {
				d.render(w, http.StatusBadRequest, "error", view{Title: "Sign-in failed", Error: "The sign-in could not be completed. Open the dashboard again to sign in."})
				return
			}
			d.fail(w, err)
			return
		}
		claims, err := d.tokens.VerifyAccessToken(tok.AccessToken, d.tokens.Issuer()+"userinfo")
		if err != nil {
			d.fail(w, err)
			return
		}
		u, err := d.ids.User(r.Context(), claims.Subject)
		if err != nil {
			d.fail(w, err)
			return
		}
		cookie, err := d.tokens.NewSession(r.Context(), u, sessionLifetime)
		if err != nil {
			d.fail(w, err)
			return
		}
		d.jar.Set(w, sessionCookie, cookie, sessionLifetime, http.SameSiteLaxMode)
		if !strings.HasPrefix(next, "/dashboard/") {
			next = "/dashboard/"
		}
		http.Redirect(w, r, d.base+next, http.StatusSeeOther)
	})
}

// signOut ends the dashboard session and then the hosted login's session,
// which lands on the signed-out page.
func (d *Dashboard) signOut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		session := d.session(r)
		if !d.guard.Check(r, session) {
			d.render(w, http.StatusForbidden, "error", view{Title: "Form expired", Error: "This form expired. Go back, reload the page and try again."})
			return
		}
		if session != "" {
			if err := d.tokens.EndSession(r.Context(), session); err != nil {
				d.fail(w, err)
				return
			}
		}
		d.jar.Clear(w, sessionCookie, http.SameSiteLaxMode)
		client, err := d.client(r.Context())
		if err != nil {
			d.fail(w, err)
			return
		}
		q := url.Values{"client_id": {client.ClientID}, "returnTo": {d.root + "/signed-out"}}
		http.Redirect(w, r, d.base+"/v2/logout?"+q.Encode(), http.StatusSeeOther)
	})
}

func (d *Dashboard) signedOut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.render(w, http.StatusOK, "refused", view{Title: "Signed out", Data: refusal{SignedOut: true}})
	})
}

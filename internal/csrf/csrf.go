// Package csrf guards Usher's HTML forms (the hosted pages and the
// dashboard) against requests forged by other sites, twice over:
//
//   - Protect refuses a form posted from another origin, as the browser
//     tells it (Sec-Fetch-Site, else Origin), with the standard library's
//     http.CrossOriginProtection. A sibling subdomain is another origin.
//   - Every form carries a token derived from a secret the browser holds in
//     an HttpOnly cookie: the session (hosted login or dashboard) when there
//     is one, else a random anchor cookie. Another site can make a browser
//     send its cookies but cannot read them, so it cannot compute the token;
//     and a cookie it plants (a sibling subdomain can, without __Host-) does
//     not help against a signed-in session, whose token it cannot know.
package csrf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"

	"github.com/usherid/usher/internal/cookie"
)

// Cookie is the base name of the anchor cookie, for forms shown to a
// browser without a session (see cookie.Jar for the name on the wire).
const Cookie = "usher_csrf"

// Field is the form field every POST must echo the token in.
const Field = "_csrf"

// label makes a token useless as anything else derived from the same secret.
const label = "usher csrf token v1"

// Guard issues and checks the tokens of Usher's forms and refuses forms
// posted from other origins.
type Guard struct {
	jar cookie.Jar
	cop *http.CrossOriginProtection
}

// New returns the guard of Usher reached at publicURL, whose cookies jar
// writes. The public URL's origin is trusted as the origin of a form even
// when a proxy in front of Usher rewrites the Host header.
func New(jar cookie.Jar, publicURL string) *Guard {
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(publicURL); err == nil && u.Scheme != "" && u.Host != "" {
		cop.AddTrustedOrigin(u.Scheme + "://" + u.Host) // a malformed URL only loses the proxy case
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("This form was sent from another site, so it was not accepted. Go back to the page, reload it and try again."))
	}))
	return &Guard{jar: jar, cop: cop}
}

// Protect refuses, with a 403, a request of an unsafe method (POST...) that
// the browser says comes from another origin; safe methods pass.
func (g *Guard) Protect(next http.Handler) http.Handler {
	return g.cop.Handler(next)
}

// Token returns the token the request's forms carry: bound to session (the
// session cookie's secret value) when it is not empty, else to the
// browser's anchor cookie, which it sets when the request has none.
func (g *Guard) Token(w http.ResponseWriter, r *http.Request, session string) string {
	if session != "" {
		return derive(session)
	}
	if anchor, ok := g.jar.Value(r, Cookie); ok && len(anchor) >= 32 {
		return derive(anchor)
	}
	b := make([]byte, 32)
	rand.Read(b)
	anchor := base64.RawURLEncoding.EncodeToString(b)
	g.jar.Set(w, Cookie, anchor, 0, http.SameSiteStrictMode)
	return derive(anchor)
}

// Check reports whether a form's token is the one Token gave this browser
// for session.
func (g *Guard) Check(r *http.Request, session string) bool {
	return g.Matches(r, session, r.PostFormValue(Field))
}

// Matches reports whether token, read from a form by the caller, is the
// one for session (or the anchor cookie): for a multipart form streamed
// part by part, whose token must be checked before the parts after it.
func (g *Guard) Matches(r *http.Request, session, token string) bool {
	secret := session
	if secret == "" {
		anchor, ok := g.jar.Value(r, Cookie)
		if !ok || len(anchor) < 32 {
			return false
		}
		secret = anchor
	}
	return token != "" && subtle.ConstantTimeCompare([]byte(derive(secret)), []byte(token)) == 1
}

// derive is the token for a secret. The secret is a bearer value the
// browser keeps HttpOnly, so no server key is needed: whoever can compute
// the token already holds the session. Hashing keeps the secret itself out
// of the page.
func derive(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(label))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

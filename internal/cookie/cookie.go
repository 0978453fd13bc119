// Package cookie names and writes Usher's browser cookies (the hosted
// login's session, the dashboard's session and sign-in, the CSRF anchor).
// When Usher is reached over HTTPS every name takes the __Host- prefix: a
// browser keeps such a cookie only if this very host set it, over HTTPS,
// with Path=/ and no Domain, so a sibling subdomain (or anyone on the
// network, over plain HTTP) can neither plant nor overwrite it.
package cookie

import (
	"net/http"
	"strings"
	"time"
)

// hostPrefix is the prefix browsers tie to the exact host and HTTPS.
const hostPrefix = "__Host-"

// Jar names and writes the cookies of one public URL.
type Jar struct {
	secure bool
}

// New returns the jar for Usher reached at publicURL; an https URL makes
// every cookie Secure and __Host- prefixed.
func New(publicURL string) Jar {
	return Jar{secure: strings.HasPrefix(strings.ToLower(publicURL), "https://")}
}

// Secure reports whether the cookies are HTTPS-only.
func (j Jar) Secure() bool { return j.secure }

// Name is the name a cookie called base goes by on the wire.
func (j Jar) Name(base string) string {
	if j.secure {
		return hostPrefix + base
	}
	return base
}

// Value is the request's cookie called base, when it carries one.
func (j Jar) Value(r *http.Request, base string) (string, bool) {
	c, err := r.Cookie(j.Name(base))
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// Set writes the cookie called base, HttpOnly, for the whole host; a zero
// lifetime makes it last until the browser closes.
func (j Jar) Set(w http.ResponseWriter, base, value string, lifetime time.Duration, sameSite http.SameSite) {
	c := &http.Cookie{Name: j.Name(base), Value: value, Path: "/", HttpOnly: true, Secure: j.secure, SameSite: sameSite}
	if lifetime > 0 {
		c.MaxAge = int(lifetime.Seconds())
	}
	http.SetCookie(w, c)
}

// Clear tells the browser to drop the cookie called base.
func (j Jar) Clear(w http.ResponseWriter, base string, sameSite http.SameSite) {
	http.SetCookie(w, &http.Cookie{Name: j.Name(base), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: j.secure, SameSite: sameSite})
}

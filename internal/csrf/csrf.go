// Package csrf guards Usher's HTML forms (the hosted pages and the
// dashboard) with a double-submit token: a random value in an HttpOnly,
// SameSite=Strict cookie that every form echoes in a hidden field. A page of
// another site can make a browser send the cookie but cannot read it, so it
// cannot fill the field.
package csrf

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// Cookie is the cookie that carries the token.
const Cookie = "usher_csrf"

// Field is the form field every POST must echo the token in.
const Field = "_csrf"

// Token returns the request's token, setting the cookie that carries it
// when there is none; secure marks the cookie HTTPS-only.
func Token(w http.ResponseWriter, r *http.Request, secure bool) string {
	if c, err := r.Cookie(Cookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	b := make([]byte, 32)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: Cookie, Value: token, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	return token
}

// Check reports whether a form's token matches its cookie.
func Check(r *http.Request) bool {
	return Matches(r, r.PostFormValue(Field))
}

// Matches reports whether token, read from a form by the caller, matches the
// request's cookie: for a multipart form streamed part by part, whose token
// must be checked before the parts after it are read.
func Matches(r *http.Request, token string) bool {
	c, err := r.Cookie(Cookie)
	return err == nil && token != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(token)) == 1
}

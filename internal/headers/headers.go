// Package headers sets the security headers of Usher's answers. Every
// answer is marked nosniff; every answer that names no
// Content-Security-Policy of its own gets Usher's strict page policy, which
// refuses framing (clickjacking a login or password form) and sends forms
// to Usher only, with no Referer (a password link carries its ticket in the
// URL). Pages that need more, such as the tenant's own page templates or a
// form whose answer redirects to an application, set their policy from
// Page or Custom.
package headers

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Page is the policy of the pages Usher writes: nothing inline, nothing
// from elsewhere, never in a frame. Forms may go to Usher and to
// formTargets (sources from FormTarget): browsers hold a form's redirect to
// form-action as well, so a login form needs the application it returns to.
func Page(formTargets ...string) string { return PageShowing(nil, formTargets...) }

// PageShowing is Page that also shows images from imageSources (sources
// from FormTarget, such as the origin of the tenant's logo).
func PageShowing(imageSources []string, formTargets ...string) string {
	img := "img-src 'self' data:"
	for _, s := range imageSources {
		if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
			img += " " + s
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; " + img + "; connect-src 'self'; " +
		"base-uri 'none'; object-src 'none'; " + formAction(formTargets) + "; frame-ancestors 'none'"
}

// Custom is the policy of a page the tenant writes (a Universal Login
// template, a classic password-reset page). Its scripts, styles, fonts and
// connections may come from Usher and from sources, the origins the tenant
// declares (its CDN); its inline scripts run only with nonce, which
// AddNonce gives the template's own <script> tags, so a script that a
// value shown on the page smuggles in does not run. Inline styles and
// images from anywhere over HTTPS are allowed, as such pages use them.
// What guards the password typed there holds as on Usher's own pages: no
// framing, forms to Usher and formTargets only, no plugins, no <base>
// elsewhere.
func Custom(nonce string, sources []string, formTargets ...string) string {
	from := ""
	for _, s := range sources {
		// A source is one token of the policy: no separator may end it early.
		if (strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) && !strings.ContainsAny(s, " ;,'\"\t\r\n") {
			from += " " + s
		}
	}
	return "default-src 'self'; script-src 'self' 'nonce-" + nonce + "'" + from + "; style-src 'self' 'unsafe-inline'" + from + "; " +
		"img-src 'self' data: https:; font-src 'self' data:" + from + "; connect-src 'self'" + from + "; " +
		"base-uri 'self'; object-src 'none'; " + formAction(formTargets) + "; frame-ancestors 'none'"
}

// NewNonce is a fresh nonce for one answer's Custom policy.
func NewNonce() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var scriptTag = regexp.MustCompile(`(?i)<script\b`)

// AddNonce gives every <script> tag of a page template the nonce, before
// the template is rendered: the tenant wrote those, and only those.
func AddNonce(template, nonce string) string {
	return scriptTag.ReplaceAllString(template, `<script nonce="`+nonce+`"`)
}

func formAction(targets []string) string {
	var b strings.Builder
	b.WriteString("form-action 'self'")
	seen := map[string]bool{}
	for _, t := range targets {
		if t != "" && !seen[t] {
			seen[t] = true
			b.WriteString(" " + t)
		}
	}
	return b.String()
}

var (
	hostChars   = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)
	schemeChars = regexp.MustCompile(`^[a-z][a-z0-9+.\-]*$`)
)

// FormTarget is the policy source that lets a form's answer lead to
// rawURL: its origin for http and https, its scheme for a native
// application's own scheme; "" when rawURL is empty or not a URL a policy
// can name safely.
func FormTarget(rawURL string) string {
	if rawURL == "" {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "http" || scheme == "https":
		if !hostChars.MatchString(u.Host) {
			return ""
		}
		return scheme + "://" + strings.ToLower(u.Host)
	case schemeChars.MatchString(scheme) && scheme != "javascript" && scheme != "data":
		return scheme + ":"
	}
	return ""
}

// Wrap sets the headers on every answer of next: nosniff always; and the
// page policy, frames refused and no Referer, unless the handler set its
// own. Answers that are not HTML get them too: they cost nothing there and
// hold even when a browser is tricked into rendering one.
func Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&writer{ResponseWriter: w}, r)
	})
}

// writer fills in the headers just before they are sent, after the
// handler had its say.
type writer struct {
	http.ResponseWriter
	sent bool
}

func (w *writer) fill() {
	if w.sent {
		return
	}
	w.sent = true
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", Page())
	}
	// For browsers that predate frame-ancestors; a page that names who may
	// frame it (a web_message answer) is left to its policy.
	if h.Get("X-Frame-Options") == "" && strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		h.Set("X-Frame-Options", "DENY")
	}
	if h.Get("Referrer-Policy") == "" {
		h.Set("Referrer-Policy", "no-referrer")
	}
}

func (w *writer) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.fill() // an informational answer (103) is not the final header
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	w.fill()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushing).
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

package identity

import (
	"context"
	"net/url"
	"regexp"
	"strings"

	"github.com/usherid/usher/internal/errs"
)

// origins are the web origins clients let call Usher from a browser: the
// entries of their web_origins and allowed_origins, and the origins of
// their callbacks, as Auth0 allows. An entry may start its host with "*."
// for any subdomain.
type origins struct {
	exact map[string]bool
	// wild are the "scheme://" + "." + rest of wildcard entries: an origin
	// matches when it starts with the scheme and ends with the rest.
	wild []wildOrigin
}

type wildOrigin struct{ scheme, suffix string }

// AllowsOrigin tells whether a page of origin (a browser's Origin header)
// may call the endpoints Auth0 opens to browsers: some client lists it.
// The origins are kept for settingsTTL, so a change made through another
// instance counts within that time.
func (s *Service) AllowsOrigin(ctx context.Context, origin string) (bool, error) {
	o, err := s.originCache.Get(struct{}{}, s.now(), func() (origins, error) {
		cs, err := s.store.Clients(ctx)
		if err != nil {
			return origins{}, err
		}
		o := origins{exact: map[string]bool{}}
		for _, c := range cs {
			for _, list := range [][]string{c.WebOrigins, c.AllowedOrigins, c.Callbacks} {
				for _, entry := range list {
					o.add(entry)
				}
			}
		}
		return o, nil
	})
	if err != nil {
		return false, err
	}
	return o.allows(origin), nil
}

func (o *origins) add(entry string) {
	scheme, host, ok := originOf(entry)
	if !ok {
		return
	}
	if rest, wild := strings.CutPrefix(host, "*."); wild {
		o.wild = append(o.wild, wildOrigin{scheme: scheme + "://", suffix: "." + rest})
		return
	}
	o.exact[scheme+"://"+host] = true
}

func (o origins) allows(origin string) bool {
	scheme, host, ok := originOf(origin)
	if !ok || strings.HasPrefix(host, "*") {
		return false
	}
	if o.exact[scheme+"://"+host] {
		return true
	}
	for _, w := range o.wild {
		// One label or more before the suffix, none of them empty.
		if sub, found := strings.CutSuffix(host, w.suffix); found && scheme+"://" == w.scheme && sub != "" && !strings.HasSuffix(sub, ".") {
			return true
		}
	}
	return false
}

// originHost is a host an origin may name: DNS labels (the first one may
// be "*" in a client's entry) or a bracketed IPv6 address, and a port.
// Nothing else gets through, so an origin is safe to write into a
// Content-Security-Policy or a CORS header.
var originHost = regexp.MustCompile(`^(\*\.)?([a-z0-9-]+\.)*[a-z0-9-]+(:[0-9]{1,5})?$|^\[[0-9a-f:.]+\](:[0-9]{1,5})?$`)

// originOf is the scheme and host (with any port that is not the scheme's
// default) of an http(s) URL, lower-cased; ok is false for anything else.
func originOf(raw string) (scheme, host string, ok bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || !originHost.MatchString(strings.ToLower(u.Host)) {
		return "", "", false
	}
	scheme, host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if port := u.Port(); (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		host = strings.TrimSuffix(host, ":"+port)
	}
	return scheme, host, true
}

// checkOrigins refuses an entry of web_origins or allowed_origins that is
// not an origin: an http(s) scheme and a host, with no path, query or
// fragment (a trailing slash aside).
func checkOrigins(field string, list []string) error {
	for i, entry := range list {
		u, err := url.Parse(entry)
		_, _, ok := originOf(entry)
		if err != nil || !ok || strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			return errs.Invalid("invalid_body", "Payload validation error: 'Object didn't pass validation for format origin: %s' on property %s[%d] (an http(s) scheme and host, with an optional port and an optional leading *. for subdomains).", entry, field, i)
		}
	}
	return nil
}

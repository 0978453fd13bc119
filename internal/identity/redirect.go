package identity

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/usherid/usher/internal/errs"
)

// codeSchemes are URL schemes a browser runs as code or reads locally:
// sending someone there from Usher's origin is never what a tenant meant.
var codeSchemes = map[string]bool{
	"javascript": true, "vbscript": true, "data": true, "blob": true, "file": true,
	"filesystem": true, "about": true, "view-source": true, "jar": true, "livescript": true, "mocha": true,
}

// RedirectOK reports whether Usher may send a browser to raw: an absolute
// http(s) URL with a host. With native, a native app's own scheme is also
// fine (Auth0's mobile SDKs come back through com.example.app://…), but
// never a scheme a browser would run or read as a local file.
func RedirectOK(raw string, native bool) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return false
	}
	switch {
	case u.Scheme == "https" || u.Scheme == "http":
		return u.Host != "" && u.Opaque == ""
	case native:
		return !codeSchemes[u.Scheme] && !strings.ContainsAny(raw, "\x00\r\n\t")
	}
	return false
}

// CheckRedirect is RedirectOK (without native schemes) as a 400 in Auth0's
// shape naming property; an empty value is fine (nothing is set).
func CheckRedirect(property, raw string) error {
	return checkRedirect(property, raw, false)
}

func checkRedirect(property, raw string, native bool) error {
	if raw == "" || RedirectOK(raw, native) {
		return nil
	}
	return errs.Invalid("invalid_body", "Payload validation error: 'Object didn't pass validation for format absolute-uri (http or https): %s' on property %s.", raw, property)
}

// checkRedirects checks every URL of a list, naming the one that fails by
// its index.
func checkRedirects(property string, list []string, native bool) error {
	for i, raw := range list {
		if raw == "" {
			return errs.Invalid("invalid_body", "Payload validation error: 'an empty URL' on property %s[%d].", property, i)
		}
		if err := checkRedirect(property+"["+strconv.Itoa(i)+"]", raw, native); err != nil {
			return err
		}
	}
	return nil
}

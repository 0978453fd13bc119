package pages

import (
	"net/url"

	"github.com/usherid/usher/internal/identity"
)

// resultWith is result_url with Auth0's success, message and email parameters.
func resultWith(resultURL string, success bool, message, email string) string {
	u, err := url.Parse(resultURL)
	if resultURL == "" || err != nil || !identity.RedirectOK(resultURL, false) { // one stored before URLs were checked
		return ""
	}
	q := u.Query()
	q.Set("success", map[bool]string{true: "true", false: "false"}[success])
	q.Set("message", message)
	if email != "" {
		q.Set("email", email)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

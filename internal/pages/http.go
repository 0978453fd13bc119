package pages

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"

	"github.com/usherid/usher/internal/identity"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

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

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestBrowserSilentAuthentication: an application on its own origin asks
// Usher for a code in a hidden iframe (prompt=none, response_mode=
// web_message), as Auth0's SPA SDK's getTokenSilently does. With a session
// the app's window receives the code from Usher's origin; without one it
// receives login_required.
func TestBrowserSilentAuthentication(t *testing.T) {
	chromiumPath(t)
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	usher, _ := url.Parse(s.URL)

	var authorize string // set once the app's client exists
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path != "/" {
			fmt.Fprint(w, "<p>callback</p>")
			return
		}
		fmt.Fprintf(w, `<!doctype html><body><script>
window.addEventListener("message", function (e) {
  if (e.origin !== %q || !e.data || e.data.type !== "authorization_response") return;
  document.body.setAttribute("data-result", JSON.stringify(e.data.response));
});
var f = document.createElement("iframe");
f.style.display = "none";
f.src = %q;
document.body.appendChild(f);
</script></body>`, usher.Scheme+"://"+usher.Host, authorize)
	}))
	t.Cleanup(app.Close)
	// The app is on another port of the same address: another origin.
	spa := s.app(t, tok, map[string]any{"app_type": "spa", "token_endpoint_auth_method": "none",
		"callbacks": []string{app.URL + "/callback"}, "web_origins": []string{app.URL}})
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "quiet@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, nil)
	_, challenge := pkce()
	query := url.Values{"response_type": {"code"}, "client_id": {spa.ClientID}, "redirect_uri": {app.URL + "/callback"},
		"scope": {"openid profile"}, "state": {"silent"}, "nonce": {"n0nce"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	login := s.URL + "/authorize?" + query.Encode()
	query.Set("prompt", "none")
	query.Set("response_mode", "web_message")
	authorize = s.URL + "/authorize?" + query.Encode()

	c := startChromium(t)
	result := func(p *browserTab) string {
		t.Helper()
		deadline := time.Now().Add(stepLimit)
		for time.Now().Before(deadline) {
			if got := evalIn[string](p, `document.body.getAttribute("data-result") || ""`); got != "" {
				return got
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("the app received no answer:\n%s", p.shown())
		return ""
	}

	// Without a session: login_required, to the app.
	visitor := c.newTab(true)
	visitor.open(app.URL + "/")
	if got := result(visitor); !strings.Contains(got, `"error":"login_required"`) || !strings.Contains(got, `"state":"silent"`) {
		t.Fatalf("silent authentication without a session: %s", got)
	}

	// Log in once through the hosted page, then the app asks silently.
	p := c.newTab(true)
	if st := p.open(login); st != http.StatusOK {
		t.Fatalf("login page: %d", st)
	}
	p.typeInto(`#username`, "quiet@example.com")
	p.typeInto(`#password`, "Str0ng-Passw0rd!")
	p.click(`button[type=submit]`)
	p.open(app.URL + "/")
	if got := result(p); !strings.Contains(got, `"code":"`) || !strings.Contains(got, `"state":"silent"`) {
		t.Fatalf("silent authentication with a session: %s", got)
	}
}

package cookie_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/usherid/usher/internal/cookie"
)

func TestNamesAndAttributes(t *testing.T) {
	for _, tc := range []struct {
		publicURL string
		name      string
		secure    bool
	}{
		{"https://id.example.com", "__Host-usher_session", true},
		{"HTTPS://id.example.com/auth", "__Host-usher_session", true},
		{"http://localhost:8080", "usher_session", false},
	} {
		jar := cookie.New(tc.publicURL)
		if got := jar.Name("usher_session"); got != tc.name {
			t.Errorf("%s: name %q, want %q", tc.publicURL, got, tc.name)
		}
		w := httptest.NewRecorder()
		jar.Set(w, "usher_session", "v", time.Hour, http.SameSiteLaxMode)
		c := w.Result().Cookies()[0]
		if c.Name != tc.name || c.Secure != tc.secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.MaxAge != 3600 {
			t.Errorf("%s: set %+v", tc.publicURL, c)
		}
		// A cookie is read back under its own name only: an unprefixed
		// one, which a sibling subdomain could plant, is not taken over HTTPS.
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "usher_session", Value: "planted"})
		if v, ok := jar.Value(r, "usher_session"); tc.secure && ok {
			t.Errorf("%s: read the unprefixed cookie %q", tc.publicURL, v)
		}
		w = httptest.NewRecorder()
		jar.Clear(w, "usher_session", http.SameSiteLaxMode)
		if c := w.Result().Cookies()[0]; c.Name != tc.name || c.MaxAge >= 0 || c.Path != "/" {
			t.Errorf("%s: clear %+v", tc.publicURL, c)
		}
	}
}

package csrf_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/cookie"
	"github.com/usherid/usher/internal/csrf"
)

// form is a POST of token with the given cookies.
func form(token string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{csrf.Field: {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func TestTokensAreBoundToTheSession(t *testing.T) {
	g := csrf.New(cookie.New("http://id.example.com"), "http://id.example.com")
	w := httptest.NewRecorder()
	a := g.Token(w, httptest.NewRequest("GET", "/", nil), "session-a")
	if len(w.Result().Cookies()) != 0 {
		t.Fatal("a session's token set an anchor cookie")
	}
	if !g.Check(form(a), "session-a") {
		t.Fatal("the session's own token is refused")
	}
	if g.Check(form(a), "session-b") {
		t.Fatal("session a's token is taken in session b")
	}
	if a == "session-a" || strings.Contains(a, "session-a") {
		t.Fatal("the token shows the session")
	}
}

func TestAnchorWithoutSession(t *testing.T) {
	g := csrf.New(cookie.New("http://id.example.com"), "http://id.example.com")
	w := httptest.NewRecorder()
	token := g.Token(w, httptest.NewRequest("GET", "/", nil), "")
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != csrf.Cookie || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("anchor cookie: %+v", cookies)
	}
	anchor := cookies[0]
	if anchor.Value == token {
		t.Fatal("the token is the cookie itself (plain double submit)")
	}
	if !g.Check(form(token, anchor), "") {
		t.Fatal("the anchor's token is refused")
	}
	if g.Check(form(anchor.Value, anchor), "") {
		t.Fatal("the cookie's value is taken as the token")
	}
	if g.Check(form(token), "") {
		t.Fatal("a token without its cookie is taken")
	}
	other := httptest.NewRecorder()
	g.Token(other, httptest.NewRequest("GET", "/", nil), "")
	if g.Check(form(token, other.Result().Cookies()[0]), "") {
		t.Fatal("a token is taken with another browser's cookie")
	}
	// With a session, the anchor (which a sibling subdomain could plant
	// over plain HTTP) is not enough.
	if g.Check(form(token, anchor), "a-session") {
		t.Fatal("an anchor's token is taken in a session")
	}
}

func TestProtectRefusesOtherOrigins(t *testing.T) {
	g := csrf.New(cookie.New("https://id.example.com"), "https://id.example.com")
	h := g.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tc := range []struct {
		name   string
		method string
		header map[string]string
		want   int
	}{
		{"same origin", "POST", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"another site", "POST", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"a sibling subdomain", "POST", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"an old browser elsewhere", "POST", map[string]string{"Origin": "https://evil.example"}, 403},
		{"the public URL behind a proxy", "POST", map[string]string{"Origin": "https://id.example.com"}, 200},
		{"a link from elsewhere", "GET", map[string]string{"Sec-Fetch-Site": "cross-site"}, 200},
		{"no browser", "POST", nil, 200},
	} {
		r := httptest.NewRequest(tc.method, "http://10.0.0.5:8080/u/login", nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.want)
		}
	}
}

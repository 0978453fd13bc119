package csrf_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/cookie"
	"github.com/usherid/usher/internal/csrf"
)

// issue asks g for a form's token with the given cookies, as a page that
// shows a form does, and returns the token and the cookies it set.
func issue(g *csrf.Guard, session string, cookies ...*http.Cookie) (string, []*http.Cookie) {
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	token := g.Token(w, r, session)
	return token, w.Result().Cookies()
}

// A browser keeps one token while it keeps its anchor cookie: a reloaded
// page, or a second tab, does not make the first tab's form fail.
func TestOneTokenPerBrowser(t *testing.T) {
	g := csrf.New(cookie.New("http://id.example.com"), "http://id.example.com")
	first, set := issue(g, "")
	if len(set) != 1 {
		t.Fatalf("first form: cookies %+v, want the anchor", set)
	}
	second, again := issue(g, "", set[0])
	if second != first || len(again) != 0 {
		t.Fatalf("second form: token %q (first %q), cookies %+v: want the same token and no new cookie", second, first, again)
	}
	if !g.Check(form(first, set[0]), "") {
		t.Fatal("the first tab's form is refused after the second tab opened")
	}
	withSession, _ := issue(g, "session-a")
	if again, _ := issue(g, "session-a"); again != withSession {
		t.Fatal("a session's token changes from one page to the next")
	}
}

// A form with no token, an empty one, or one made up, is refused, with a
// session and without.
func TestFormsWithoutTheirTokenAreRefused(t *testing.T) {
	g := csrf.New(cookie.New("http://id.example.com"), "http://id.example.com")
	_, set := issue(g, "")
	anchor := set[0]
	for _, token := range []string{"", "x", strings.Repeat("A", 43), "session-a"} {
		if g.Check(form(token, anchor), "") {
			t.Errorf("token %q taken with the anchor", token)
		}
		if g.Check(form(token), "session-a") {
			t.Errorf("token %q taken in a session", token)
		}
		if g.Matches(httptest.NewRequest("POST", "/", nil), "session-a", token) {
			t.Errorf("token %q matched a session (multipart form)", token)
		}
	}
	// A form posted without the field at all.
	r := httptest.NewRequest("POST", "/", strings.NewReader("name=x"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(anchor)
	if g.Check(r, "") {
		t.Error("a form without the _csrf field is taken")
	}
	// The token read by the caller from a multipart form counts as the field does.
	token, _ := issue(g, "session-a")
	if !g.Matches(httptest.NewRequest("POST", "/", nil), "session-a", token) {
		t.Error("the session's token does not match when read from a multipart form")
	}
}

// A session's token ends with the session: a form loaded before signing
// out and in again is refused, and the new session's form works.
func TestTokenEndsWithItsSession(t *testing.T) {
	g := csrf.New(cookie.New("http://id.example.com"), "http://id.example.com")
	old, _ := issue(g, "old-session-cookie-value")
	fresh, _ := issue(g, "new-session-cookie-value")
	if g.Check(form(old), "new-session-cookie-value") {
		t.Fatal("a form from the ended session is taken in the new one")
	}
	if !g.Check(form(fresh), "new-session-cookie-value") {
		t.Fatal("the new session's form is refused")
	}
}

// An anchor too short to be one Usher made (as another site on a sibling
// subdomain could plant) is not trusted: the browser gets a new one.
func TestWeakAnchorIsReplaced(t *testing.T) {
	g := csrf.New(cookie.New("http://id.example.com"), "http://id.example.com")
	planted := &http.Cookie{Name: csrf.Cookie, Value: "short"}
	token, set := issue(g, "", planted)
	if len(set) != 1 || set[0].Name != csrf.Cookie || set[0].Value == "short" || len(set[0].Value) < 32 {
		t.Fatalf("cookies after a planted anchor: %+v, want a new anchor", set)
	}
	if g.Check(form(token, planted), "") {
		t.Error("a form is taken with the planted anchor")
	}
	if !g.Check(form(token, set[0]), "") {
		t.Error("the new anchor's form is refused")
	}
}

// Over HTTPS the anchor is a __Host- cookie sent over HTTPS only, so that
// a sibling subdomain or a plain-HTTP page cannot set or read it.
func TestAnchorOverHTTPS(t *testing.T) {
	g := csrf.New(cookie.New("https://id.example.com"), "https://id.example.com")
	token, set := issue(g, "")
	if len(set) != 1 || set[0].Name != "__Host-"+csrf.Cookie || !set[0].Secure || !set[0].HttpOnly || set[0].Path != "/" || set[0].Domain != "" {
		t.Fatalf("anchor over HTTPS: %+v", set)
	}
	if !g.Check(form(token, set[0]), "") {
		t.Error("the anchor's form is refused")
	}
	// The same value under the plain name, as a plain-HTTP page could set it.
	if g.Check(form(token, &http.Cookie{Name: csrf.Cookie, Value: set[0].Value}), "") {
		t.Error("the anchor is taken without its __Host- prefix")
	}
}

// Every method that changes something is refused from another site, not
// POST alone.
func TestProtectCoversEveryUnsafeMethod(t *testing.T) {
	g := csrf.New(cookie.New("https://id.example.com"), "https://id.example.com")
	reached := false
	h := g.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		reached = false
		r := httptest.NewRequest(method, "https://id.example.com/dashboard/users/x", nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || reached {
			t.Errorf("%s from another site: %d, handler reached: %v", method, w.Code, reached)
		}
		if !strings.Contains(w.Body.String(), "another site") {
			t.Errorf("%s from another site: the refusal says %q", method, w.Body.String())
		}
	}
	for _, method := range []string{"GET", "HEAD", "OPTIONS"} {
		reached = false
		r := httptest.NewRequest(method, "https://id.example.com/dashboard/", nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if !reached {
			t.Errorf("%s from another site (a link) was refused: %d", method, w.Code)
		}
	}
}

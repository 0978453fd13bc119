package headers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/headers"
)

func TestWrapFillsWhatTheHandlerLeft(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		csp     string
		frame   string
	}{
		{"nothing set", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<p>hi")) }, headers.Page(), "DENY"},
		{"status only", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, headers.Page(), "DENY"},
		{"own policy", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "frame-ancestors 'self'")
			w.Header().Set("X-Frame-Options", "SAMEORIGIN")
			w.Write([]byte("x"))
		}, "frame-ancestors 'self'", "SAMEORIGIN"},
	} {
		w := httptest.NewRecorder()
		headers.Wrap(tc.handler).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		h := w.Result().Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != tc.csp ||
			h.Get("X-Frame-Options") != tc.frame || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: %v", tc.name, h)
		}
	}
}

func TestPolicies(t *testing.T) {
	for _, p := range []string{headers.Page("https://app.example.com"), headers.Custom("n0nce", nil, "https://app.example.com")} {
		for _, want := range []string{"frame-ancestors 'none'", "form-action 'self' https://app.example.com;", "object-src 'none'"} {
			if !strings.Contains(p, want) {
				t.Errorf("%q lacks %q", p, want)
			}
		}
	}
	if strings.Contains(headers.Page(), "unsafe-inline") {
		t.Error("inline script or style on Usher's pages")
	}
	custom := headers.Custom("n0nce", []string{"https://cdn.example.com", "'unsafe-inline'", "javascript:", "https://a.com; script-src *"})
	if !strings.Contains(custom, "script-src 'self' 'nonce-n0nce' https://cdn.example.com;") || strings.Contains(custom, "script-src 'self' 'unsafe-inline'") ||
		strings.Contains(custom, "javascript:") || strings.Contains(custom, "connect-src 'self' https:;") || strings.Contains(custom, "a.com") {
		t.Errorf("the tenant's pages: inline script by nonce only, scripts from the sources declared: %q", custom)
	}
}

func TestAddNonce(t *testing.T) {
	got := headers.AddNonce(`<script>a()</script><SCRIPT src="x.js"></SCRIPT><scripts>`, "n")
	if want := `<script nonce="n">a()</script><script nonce="n" src="x.js"></SCRIPT><scripts>`; got != want {
		t.Errorf("%s, want %s", got, want)
	}
}

func TestFormTarget(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.example.com/callback?x=1": "https://app.example.com",
		"http://localhost:3000/cb":             "http://localhost:3000",
		"http://[::1]:3000/cb":                 "http://[::1]:3000",
		"com.example.app://callback":           "com.example.app:",
		"":                                     "",
		"javascript:alert(1)":                  "",
		"https://a.example;script-src *":       "",
		"/relative":                            "",
		"https://a.example 'unsafe-inline'/x":  "",
	} {
		if got := headers.FormTarget(in); got != want {
			t.Errorf("FormTarget(%q) = %q, want %q", in, got, want)
		}
	}
}

package identity

import "testing"

func TestOrigins(t *testing.T) {
	var o origins
	o.exact = map[string]bool{}
	for _, entry := range []string{"https://app.example.com", "http://localhost:3000/", "https://*.tenant.example.com",
		"https://cb.example.com/callback?x=1", "com.example.app://callback", "HTTPS://Upper.Example.com:443"} {
		o.add(entry)
	}
	for _, tc := range []struct {
		origin string
		want   bool
	}{
		{"https://app.example.com", true},
		{"https://app.example.com:443", true},
		{"http://app.example.com", false},
		{"https://app.example.com:8443", false},
		{"http://localhost:3000", true},
		{"http://localhost:3001", false},
		{"https://cb.example.com", true}, // a callback's origin
		{"https://upper.example.com", true},
		{"https://a.tenant.example.com", true},
		{"https://a.b.tenant.example.com", true},
		{"https://tenant.example.com", false},
		{"https://.tenant.example.com", false},
		{"https://eviltenant.example.com", false},
		{"https://a.tenant.example.com.evil.com", false},
		{"http://a.tenant.example.com", false},
		{"https://*.tenant.example.com", false},
		{"null", false},
		{"", false},
		{"com.example.app://callback", false},
	} {
		if got := o.allows(tc.origin); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.origin, got, tc.want)
		}
	}
}

func TestCheckOrigins(t *testing.T) {
	for _, ok := range []string{"https://app.example.com", "http://localhost:3000", "https://app.example.com/", "https://*.example.com"} {
		if err := checkOrigins("web_origins", []string{ok}); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/path", "https://app.example.com?x", "ftp://x.example.com",
		"https://a.*.example.com", "javascript:alert(1)", "https://user@app.example.com", "", "https://a.com;script-src",
		"https://a.com,https://b.com", "https://*"} {
		if err := checkOrigins("web_origins", []string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

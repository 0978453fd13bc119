package identity

import (
	"strings"
	"testing"

	"github.com/usherid/usher/internal/errs"
)

func TestRedirectOK(t *testing.T) {
	for _, tc := range []struct {
		raw         string
		web, native bool
	}{
		{"https://app.example.com/cb?x=1#y", true, true},
		{"http://localhost:3000/cb", true, true},
		{"HTTPS://APP.example.com/", true, true},
		{"https://*.example.com/cb", true, true}, // Auth0's wildcard subdomains
		{"com.example.app://id.example.com/ios/com.example.app/callback", false, true},
		{"myapp://callback", false, true},
		{"javascript:alert(1)", false, false},
		{"javascript://app.example.com/%0Aalert(1)", false, false},
		{"JaVaScRiPt://x/%0Aalert(1)", false, false},
		{"vbscript://x/msgbox", false, false},
		{"data:text/html,<script>alert(1)</script>", false, false},
		{"file:///etc/passwd", false, false},
		{"//evil.example/", false, false},
		{"/relative/path", false, false},
		{"https:///nohost", false, false},
		{"https:opaque", false, false},
		{"", false, false},
		{" https://app.example.com/", false, false},
		{"https://app.example.com/\x00", false, false},
	} {
		if got := RedirectOK(tc.raw, false); got != tc.web {
			t.Errorf("RedirectOK(%q, web) = %v, want %v", tc.raw, got, tc.web)
		}
		if got := RedirectOK(tc.raw, true); got != tc.native {
			t.Errorf("RedirectOK(%q, native) = %v, want %v", tc.raw, got, tc.native)
		}
	}
}

func TestClientRedirectsNameTheProperty(t *testing.T) {
	for _, tc := range []struct {
		c    Client
		want string
	}{
		{Client{Name: "a", Callbacks: []string{"https://ok.example/", "javascript:alert(1)"}}, "on property callbacks[1]"},
		{Client{Name: "a", AllowedLogoutURLs: []string{"data:,x"}}, "on property allowed_logout_urls[0]"},
		{Client{Name: "a", InitiateLoginURI: "com.example.app://login", AppType: "native"}, "on property initiate_login_uri"},
		{Client{Name: "a", AppType: "native", Callbacks: []string{"javascript://x/%0a"}}, "on property callbacks[0]"},
	} {
		err := tc.c.normalize()
		if errs.KindOf(err) != errs.KindInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a 400 %s", tc.c, err, tc.want)
		}
	}
	ok := Client{Name: "a", AppType: "native", Callbacks: []string{"com.example.app://cb"}, AllowedLogoutURLs: []string{"com.example.app://bye"}}
	if err := ok.normalize(); err != nil {
		t.Errorf("a native app's own scheme: %v", err)
	}
}

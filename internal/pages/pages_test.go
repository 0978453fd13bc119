package pages

import (
	"bytes"
	"encoding/json"
	"html/template"
	"regexp"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// The policy a page shows reads, once its rules' tags are gone, as the
// sentence the rest of Usher says of the policy.
func TestPolicyReadsAsDescribe(t *testing.T) {
	tmpl := template.Must(template.ParseFS(files, "widget.html"))
	tags := regexp.MustCompile(`<[^>]*>`)
	for _, p := range []identity.PasswordPolicy{
		{Level: "none"}, {Level: "low"}, {Level: "fair"}, {Level: "good"}, {Level: "excellent"},
		{Level: "good", MinLength: 12}, {Level: "bogus"}, {},
	} {
		var out bytes.Buffer
		if err := tmpl.ExecuteTemplate(&out, "policy", policyFor(p, "pw")); err != nil {
			t.Fatal(err)
		}
		if got := tags.ReplaceAllString(out.String(), ""); got != p.Describe() {
			t.Errorf("%+v: the page says %q, Describe %q", p, got, p.Describe())
		}
		if !strings.Contains(out.String(), `data-rule="length"`) || !strings.Contains(out.String(), `data-for="pw"`) {
			t.Errorf("%+v: no rules to tick: %s", p, out.String())
		}
	}
}

func TestBrandingFields(t *testing.T) {
	for _, tc := range []struct {
		field, value string
		ok           bool
	}{
		{"logo_url", `"https://cdn.example.com/logo.png"`, true},
		{"logo_url", `""`, true},
		{"logo_url", `"javascript:alert(1)"`, false},
		{"logo_url", `"/relative.png"`, false},
		{"logo_url", `42`, false},
		{"colors", `{"primary":"#0059d6","page_background":"#000"}`, true},
		{"colors", `{"primary":"#0059d6","page_background":{"type":"linear-gradient","start":"#fff","end":"#000000","angle_deg":35}}`, true},
		{"colors", `{"primary":"red; } body { display: none"}`, false},
		{"colors", `{"page_background":{"type":"radial","start":"#fff","end":"#000"}}`, false},
		{"colors", `{"page_background":{"type":"linear-gradient","start":"#fff","end":"url(x)"}}`, false},
		{"colors", `{"secondary":"#fff"}`, false},
		{"font", `{"url":"https://fonts.example.com/a.woff2"}`, true},
		{"font", `{"url":"ftp://x"}`, false},
	} {
		_, err := checkBrandingField(tc.field, json.RawMessage(tc.value))
		if (err == nil) != tc.ok {
			t.Errorf("%s=%s: error %v, want ok=%v", tc.field, tc.value, err, tc.ok)
		}
		if err != nil && errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("%s=%s: %v is not a 400", tc.field, tc.value, err)
		}
	}
}

func TestThemeCSS(t *testing.T) {
	if css := themeCSS(Branding{}); css != "" {
		t.Errorf("no colours: %q", css)
	}
	dark := themeCSS(Branding{Colors: &BrandingColors{Primary: "#0059d6", PageBackground: "#101820"}})
	if !strings.Contains(dark, "--accent: #0059d6; --on-accent: #fff;") || !strings.Contains(dark, "background: #101820") {
		t.Errorf("dark accent: %q", dark)
	}
	light := themeCSS(Branding{Colors: &BrandingColors{Primary: "#ffd60a"}})
	if !strings.Contains(light, "--on-accent: #1d2330;") {
		t.Errorf("a light accent keeps white text: %q", light)
	}
	grad := themeCSS(Branding{Colors: &BrandingColors{PageBackground: map[string]any{"type": "linear-gradient", "start": "#fff", "end": "#000", "angle_deg": 90.0}}})
	if !strings.Contains(grad, "linear-gradient(90deg, #fff, #000)") {
		t.Errorf("gradient: %q", grad)
	}
	// A value that slipped past the checks (stored before them) never reaches the CSS.
	if css := themeCSS(Branding{Colors: &BrandingColors{Primary: "red;}*{x:y", PageBackground: "url(evil)"}}); css != "" {
		t.Errorf("unchecked values: %q", css)
	}
}

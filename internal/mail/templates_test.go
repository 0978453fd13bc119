package mail

import (
	"errors"
	"strings"
	"testing"
)

// auth0Recipe is the change-password template of Auth0's invitation recipe.
const auth0Recipe = `{% if user.app_metadata.needsInvitation %}Welcome… <a href="{{ url }}type=invite">Accept</a>{% else %}Reset… <a href="{{ url }}type=reset">Reset</a>{% endif %}`

func TestAuth0RecipeRendersBothBranches(t *testing.T) {
	e := NewEngine()
	if err := e.Check("reset_email", auth0Recipe); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		invited bool
		want    string
	}{
		{true, `Welcome… <a href="https://id.example.com/lo/reset?ticket=T#type=invite">`},
		{false, `Reset… <a href="https://id.example.com/lo/reset?ticket=T#type=reset">`},
	} {
		vars := map[string]any{"url": "https://id.example.com/lo/reset?ticket=T#", "user": map[string]any{"app_metadata": map[string]any{"needsInvitation": tc.invited}}}
		out, err := e.Render("reset_email", auth0Recipe, vars)
		if err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("invited=%v: %q, %v; want %q", tc.invited, out, err, tc.want)
		}
	}
}

func TestBrokenTemplatesNameTheLine(t *testing.T) {
	e := NewEngine()
	for _, tc := range []struct {
		name, src string
		line      int
	}{
		{"unterminated if", "<p>hello</p>\n{% if user.email %}\n<p>never closed</p>", 2},
		{"stray endif", "a\nb\n{% endif %}", 3},
		{"unknown filter", "a\nb\n{{ user.email | shout }}", 3},
		{"unclosed output", "a\n{{ user.email", 2},
		{"unclosed tag", "a\nb\nc\n{% if x", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Check("reset_email", tc.src)
			var te *Error
			if !errors.As(err, &te) || te.Line != tc.line || te.Reason == "" {
				t.Fatalf("got %v, want an error on line %d", err, tc.line)
			}
		})
	}
}

func TestEveryDefaultTemplateRenders(t *testing.T) {
	e := NewEngine()
	for _, name := range TemplateNames {
		d := DefaultTemplate(name)
		if d.Subject == "" || d.Body == "" || !d.Enabled || d.Syntax != "liquid" {
			t.Errorf("%s: incomplete default %+v", name, d)
		}
		for _, src := range []string{d.Subject, d.Body} {
			if err := e.Check(name, src); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	out, _ := e.Render("reset_email", DefaultTemplate("reset_email").Body, SampleVars())
	if !strings.Contains(out, "type=invite") || strings.Contains(out, "type=reset") {
		t.Errorf("default reset_email does not invite an invited user:\n%s", out)
	}
}

// TestDefaultFooterOnlyWhenSupportIsSet: the default templates' footer
// names the support email and URL only when the tenant has them; an empty
// (or missing) value leaves no "Write to ." behind, and an empty given name
// no "Hello ,".
func TestDefaultFooterOnlyWhenSupportIsSet(t *testing.T) {
	e := NewEngine()
	for _, tc := range []struct {
		name        string
		edit        func(vars map[string]any)
		want, never []string
	}{
		{"both set", func(map[string]any) {},
			[]string{`Questions? Write to <a href="mailto:support@example.com">support@example.com</a>.`, `Help: <a href="https://example.com/support">`}, nil},
		{"email only", func(v map[string]any) { v["support_url"] = "" },
			[]string{"Questions? Write to <a"}, []string{"Help:"}},
		{"url only", func(v map[string]any) { v["support_email"] = "" },
			[]string{`Help: <a href="https://example.com/support">`}, []string{"Questions?", "Write to"}},
		{"both empty", func(v map[string]any) { v["support_email"], v["support_url"] = "", "" },
			nil, []string{"Questions?", "Write to", "Help:", "mailto:"}},
		{"both missing", func(v map[string]any) { delete(v, "support_email"); delete(v, "support_url") },
			nil, []string{"Questions?", "Write to", "Help:", "mailto:"}},
		{"both nil", func(v map[string]any) { v["support_email"], v["support_url"] = nil, nil },
			nil, []string{"Questions?", "Write to", "Help:", "mailto:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range TemplateNames {
				vars := SampleVars()
				tc.edit(vars)
				out, err := e.Render(name, DefaultTemplate(name).Body, vars)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("%s does not say %q:\n%s", name, w, out)
					}
				}
				for _, n := range tc.never {
					if strings.Contains(out, n) {
						t.Errorf("%s says %q:\n%s", name, n, out)
					}
				}
			}
		})
	}

	// The invitation greets by given name only when there is one.
	for given, want := range map[any]string{"Ada": "Hello Ada, an account", "": "Hello, an account", nil: "Hello, an account"} {
		vars := SampleVars()
		vars["user"].(map[string]any)["given_name"] = given
		out, err := e.Render("reset_email", DefaultTemplate("reset_email").Body, vars)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("given_name %q: %v; want %q in\n%s", given, err, want, out)
		}
	}
}

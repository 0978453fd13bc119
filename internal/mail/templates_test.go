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

package mail

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

	// The invitation greets by name when there is one (a database user's
	// name is their email until set, which is no name), else by given name,
	// else without a name.
	for _, tc := range []struct {
		name, given any
		want        string
	}{
		{"Ada Lovelace", "Ada", "<p>Hello Ada Lovelace,</p>"},
		{"ada@example.com", "Ada", "<p>Hello Ada,</p>"},
		{"", "Ada", "<p>Hello Ada,</p>"},
		{"ada@example.com", "", "<p>Hello,</p>"},
		{nil, nil, "<p>Hello,</p>"},
	} {
		vars := SampleVars()
		user := vars["user"].(map[string]any)
		user["name"], user["given_name"] = tc.name, tc.given
		out, err := e.Render("reset_email", DefaultTemplate("reset_email").Body, vars)
		if err != nil || !strings.Contains(out, tc.want) || strings.Contains(out, "Hello ,") {
			t.Errorf("name %q, given_name %q: %v; want %q in\n%s", tc.name, tc.given, err, tc.want, out)
		}
	}
}

// TestTemplatesReadNoFile: a tag that reads a file is refused wherever it
// stands, with its line, and the answer is the same whether the file
// exists or not; inside raw or comment it is text and harmless.
func TestTemplatesReadNoFile(t *testing.T) {
	e := NewEngine()
	rel := relMarker(t)
	for _, tc := range []struct {
		name, src string
		line      int
	}{
		{"include", `{% include "` + rel + `" %}`, 1},
		{"include with trim", "a\n{%- include '" + rel + "' -%}", 2},
		{"include never run", "a\n{% if false %}\nb\n{% include \"" + rel + "\" %}{% endif %}", 4},
		{"include in a loop", "{% for x in (1..2) %}\n{% include \"" + rel + "\" %}{% endfor %}", 2},
		{"include of a variable", "{% assign f = \"" + rel + "\" %}\n\n{% include f %}", 3},
		{"render", "\n{% render \"" + rel + "\" %}", 2},
		{"layout", "{% layout \"" + rel + "\" %}", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, src := range []string{tc.src, strings.ReplaceAll(tc.src, rel, rel+".nothere")} {
				err := e.Check("reset_email", src)
				var te *Error
				if !errors.As(err, &te) || te.Line != tc.line {
					t.Fatalf("Check(%q) = %v, want an error on line %d", src, err, tc.line)
				}
				if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "no such file") {
					t.Errorf("the error tells about the file: %v", err)
				}
				for _, render := range []func(string, string, map[string]any) (string, error){e.Render, e.RenderHTML} {
					if out, err := render("reset_email", src, SampleVars()); err == nil || strings.Contains(out, relMarkerText) {
						t.Errorf("rendered %q: %q, %v", src, out, err)
					}
				}
			}
		})
	}
	for _, src := range []string{`{% raw %}{% include "` + rel + `" %}{% endraw %}`, `{% comment %}{% include "` + rel + `" %}{% endcomment %}`} {
		if err := e.Check("reset_email", src); err != nil {
			t.Errorf("Check(%q): %v", src, err)
		}
		if out, _ := e.Render("reset_email", src, nil); strings.Contains(out, relMarkerText) {
			t.Errorf("Render(%q) read the file: %q", src, out)
		}
	}
}

const relMarkerText = "MAIL-PACKAGE-FILE-MARKER"

// relMarker writes a file holding relMarkerText and returns its path as
// {% include %} would have resolved it: relative to the working directory.
func relMarker(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(p, []byte(relMarkerText), 0o600); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, p)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// TestRenderHTMLEscapesOutputs: RenderHTML escapes every output once,
// leaves | raw alone, and keeps what is not an output as written; Render
// (subjects, From) escapes nothing.
func TestRenderHTMLEscapesOutputs(t *testing.T) {
	e := NewEngine()
	vars := map[string]any{
		"name": `<b>"Ada" & Co</b>`, "n": 42, "ok": true, "nothing": nil,
		"list": []any{"<i>", 1, nil, "&"}, "url": "https://id.example.com/lo/reset?ticket=T&x=1#",
		"meta": map[string]any{"note": "<script>x</script>"},
	}
	const esc = `&lt;b&gt;&#34;Ada&#34; &amp; Co&lt;/b&gt;`
	for _, tc := range []struct{ src, html, text string }{
		{`{{ name }}`, esc, `<b>"Ada" & Co</b>`},
		{`{{- name -}} !`, esc + "!", `<b>"Ada" & Co</b>!`},
		{`{{ name | escape }}`, esc, esc},
		{`{{ name | escape_once }}`, esc, esc},
		{`{{ name | raw }}`, `<b>"Ada" & Co</b>`, `<b>"Ada" & Co</b>`},
		{`{{ name | escape | upcase }}`, `&amp;LT;B&amp;GT;&amp;#34;ADA&amp;#34; &amp;AMP; CO&amp;LT;/B&amp;GT;`, `&LT;B&GT;&#34;ADA&#34; &AMP; CO&LT;/B&GT;`},
		{`{{ name | append: "| raw" }}`, `&lt;b&gt;&#34;Ada&#34; &amp; Co&lt;/b&gt;| raw`, `<b>"Ada" & Co</b>| raw`},
		{`{{ meta.note | default: "-" }}`, `&lt;script&gt;x&lt;/script&gt;`, `<script>x</script>`},
		{`<a href="{{ url }}type=invite">`, `<a href="https://id.example.com/lo/reset?ticket=T&amp;x=1#type=invite">`, `<a href="https://id.example.com/lo/reset?ticket=T&x=1#type=invite">`},
		{`{{ n }} {{ ok }} [{{ nothing }}] {{ list }}`, `42 true [] &lt;i&gt;1&amp;`, `42 true [] <i>1&`},
		{`{% raw %}{{ name }}{% endraw %}`, `{{ name }}`, `{{ name }}`},
		{`{% comment %}{{ name }}{% endcomment %}x`, `x`, `x`},
		{`{% if name contains "<b>" %}yes{% endif %}`, `yes`, `yes`},
		{"<p>\n{% assign x = name | upcase %}{{ x }}</p>", "<p>\n&lt;B&gt;&#34;ADA&#34; &amp; CO&lt;/B&gt;</p>", "<p>\n<B>\"ADA\" & CO</B></p>"},
	} {
		html, err := e.RenderHTML("reset_email", tc.src, vars)
		if err != nil || html != tc.html {
			t.Errorf("RenderHTML(%q) = %q, %v; want %q", tc.src, html, err, tc.html)
		}
		text, err := e.Render("reset_email", tc.src, vars)
		if err != nil || text != tc.text {
			t.Errorf("Render(%q) = %q, %v; want %q", tc.src, text, err, tc.text)
		}
	}
	// Errors name the line the tenant wrote, not the rewritten text.
	_, err := e.RenderHTML("reset_email", "a\n\n{{ name | shout }}", vars)
	var te *Error
	if !errors.As(err, &te) || te.Line != 3 || strings.Contains(err.Error(), escapeFilter) {
		t.Errorf("got %v, want an error on line 3 that does not show the escaping", err)
	}
}

// TestTemplatesRenderBounded: a template that would render without end is
// an error, not a server out of memory.
func TestTemplatesRenderBounded(t *testing.T) {
	e := NewEngine()
	src := `{% for i in (1..5000) %}{% for j in (1..1000) %}xxxxxxxxxx{% endfor %}{% endfor %}`
	if _, err := e.Render("reset_email", src, nil); err == nil {
		t.Fatal("a 50 MB render succeeded")
	}
}

// TestRenderIsBounded: a template cannot make a render run long or fill
// memory, whether by a loop, by a value that doubles at each assign or
// capture, or by an array that does; saving such a template is a 400.
func TestRenderIsBounded(t *testing.T) {
	doubling := func(seed, step string) string {
		return seed + strings.Repeat(step, 40) + "{{ s | size }}"
	}
	for _, tc := range []struct{ name, src, want string }{
		{"a long loop", `{% for i in (1..100000000) %}{% endfor %}`, "loops run more than"},
		{"nested loops", `{% for i in (1..1000) %}{% for j in (1..1000) %}{% endfor %}{% endfor %}`, "loops run more than"},
		{"a long tablerow", `{% tablerow i in (1..100000000) %}{% endtablerow %}`, "loops run more than"},
		{"a doubling string", doubling(`{% assign s = "xxxxxxxx" %}`, `{% assign s = s | append: s %}`), "makes a value of more than"},
		{"a doubling replace", doubling(`{% assign s = "xxxxxxxx" %}`, `{% assign s = s | replace: "x", "xx" %}`), "makes a value of more than"},
		{"a doubling capture", doubling(`{% capture s %}xxxxxxxx{% endcapture %}`, `{% capture s %}{{ s }}{{ s }}{% endcapture %}`), "makes a value of more than"},
		{"a doubling array", doubling(`{% assign s = "a,b" | split: "," %}`, `{% assign s = s | concat: s %}`), "makes a value of more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The bound under test must be what stops the template, not
			// the time bound, which a loaded machine under the race
			// detector can reach first.
			e := NewEngine()
			e.renderTime = time.Minute
			err := e.Check("reset_email", tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: %v, want an error saying %q", err, tc.want)
			}
		})
	}

	// What templates really do stays well inside the bounds.
	e := NewEngine()
	src := `{% for i in (1..2000) %}{% capture c %}{{ i | append: "," }}{% endcapture %}{% endfor %}{% assign l = "a,b,c" | split: "," | join: "-" %}{{ c }}{{ l }}`
	if out, err := e.Render("reset_email", src, nil); err != nil || out != "2000,a-b-c" {
		t.Fatalf("an ordinary loop: %q, %v", out, err)
	}

	// Whitespace control works as it did around the tags that get a bound.
	trimmed := "a {% for i in (1..2) -%}  {{ i }}  {%- endfor %} {% capture c -%} x {%- endcapture -%}  {{ c }}"
	if out, err := e.Render("reset_email", trimmed, nil); err != nil || out != "a 12 x" {
		t.Fatalf("trimmed loop and capture: %q, %v", out, err)
	}

	// The time bound, with no time to spare.
	e.renderTime = time.Nanosecond
	if _, err := e.Render("reset_email", `{% for i in (1..1000) %}{{ i }}{% endfor %}`, nil); err == nil || !strings.Contains(err.Error(), "to render") {
		t.Fatalf("a render past its time: %v", err)
	}
}

// BenchmarkRenderInvitation renders the default invitation mail, what every
// invitation costs in templates.
func BenchmarkRenderInvitation(b *testing.B) {
	e, tpl, vars := NewEngine(), DefaultTemplate("reset_email"), SampleVars()
	for b.Loop() {
		if _, err := e.RenderHTML("reset_email", tpl.Body, vars); err != nil {
			b.Fatal(err)
		}
	}
}

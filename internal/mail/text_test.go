package mail

import "testing"

func TestTextOf(t *testing.T) {
	for _, c := range []struct{ html, text string }{
		{`<p>Hi <b>Ada</b>,</p><p><a href="https://x.example/lo/reset?ticket=a&amp;b=1#">Set <i>your</i> password</a></p>`,
			"Hi Ada,\nSet your password: https://x.example/lo/reset?ticket=a&b=1#"},
		{"<html><head><title>T</title><style>p{color:red}</style></head><body><h1>Welcome</h1><div>to Acme &amp; Co</div><script>x()</script></body></html>",
			"Welcome\nto Acme & Co"},
		{"one<br>two<br/>three\n\n\n\n\nfour", "one\ntwo\nthree\n\nfour"},
		{"<ul><li>a</li><li>b</li></ul><table><tr><td>c</td></tr></table>", "a\nb\nc"},
		{`<a name="top">anchor without a target</a>`, "anchor without a target"},
		{"", ""},
	} {
		if got := TextOf(c.html); got != c.text {
			t.Errorf("TextOf(%q) = %q, want %q", c.html, got, c.text)
		}
	}
}

func BenchmarkTextOf(b *testing.B) {
	out, err := NewEngine().Render("reset_email", DefaultTemplate("reset_email").Body,
		map[string]any{"url": "https://x.example/lo/reset?ticket=abc#", "user": map[string]any{"email": "a@b.c"}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		TextOf(out)
	}
}

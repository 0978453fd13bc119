package mail

import (
	"regexp"
	"strings"
	"testing"
)

// fileSlot in a fuzzed template stands for the path of a file that must
// never be read.
const fileSlot = "@FILE@"

// bigRange matches a Liquid range, (a..b): the engine walks it one step at
// a time, so a fuzzed (1..999999999) only measures patience.
var bigRange = regexp.MustCompile(`\([^)]*\.\.`)

// FuzzCheck feeds Check, the path every saved template takes, whatever a
// tenant could type. It must never panic, and no template it accepts may
// read a file: neither Check nor a later render shows what the file holds.
func FuzzCheck(f *testing.F) {
	for _, seed := range []string{
		auth0Recipe,
		DefaultTemplate("reset_email").Body,
		`{% include "` + fileSlot + `" %}`,
		"a\n{%- render '" + fileSlot + "' -%}",
		`{% if false %}{% include "` + fileSlot + `" %}{% endif %}`,
		`{{ user.name | escape }}{{ url | raw }}{% raw %}{{ x }}{% endraw %}`,
	} {
		f.Add(seed)
	}
	rel := relMarker(f)
	e := NewEngine()
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 2048 || bigRange.MatchString(src) {
			return
		}
		src = strings.ReplaceAll(src, fileSlot, rel)
		err := e.Check("reset_email", src)
		if err != nil {
			if strings.Contains(err.Error(), relMarkerText) {
				t.Fatalf("Check's error shows the file: %v", err)
			}
			return
		}
		for _, render := range []func(string, string, map[string]any) (string, error){e.Render, e.RenderHTML} {
			out, err := render("reset_email", src, SampleVars())
			if strings.Contains(out, relMarkerText) || (err != nil && strings.Contains(err.Error(), relMarkerText)) {
				t.Fatalf("%q read the file: %q, %v", src, out, err)
			}
		}
	})
}

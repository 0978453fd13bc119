package mail

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// TextOf derives the plain-text part of a mail from its HTML, keeping link
// targets visible: "label: URL". Blocks end lines; the head, styles and
// scripts are dropped; runs of blank lines shrink to one.
func TextOf(h string) string {
	z := html.NewTokenizer(strings.NewReader(h))
	var out strings.Builder
	skip := 0       // depth inside head, style or script
	var href string // the open link's target
	var label strings.Builder
	inLink := false
	text := func(s string) {
		if inLink {
			label.WriteString(s)
		} else {
			out.WriteString(s)
		}
	}
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		name, hasAttr := z.TagName()
		a := atom.Lookup(name)
		switch tt {
		case html.TextToken:
			if skip == 0 {
				text(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			switch a {
			case atom.Head, atom.Style, atom.Script:
				if tt == html.StartTagToken {
					skip++
				}
			case atom.Br:
				text("\n")
			case atom.A:
				href, inLink = "", true
				label.Reset()
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "href" {
						href = string(v)
					}
				}
			}
		case html.EndTagToken:
			switch a {
			case atom.Head, atom.Style, atom.Script:
				skip = max(0, skip-1)
			case atom.A:
				if inLink {
					inLink = false
					if href != "" {
						out.WriteString(label.String() + ": " + href)
					} else {
						out.WriteString(label.String())
					}
				}
			case atom.P, atom.Div, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Li, atom.Tr:
				text("\n")
			}
		}
	}
	lines := strings.Split(out.String(), "\n")
	kept := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		kept = append(kept, l)
	}
	return strings.TrimSpace(strings.Join(kept, "\n"))
}

// Package mail renders Usher's email templates (Liquid, as Auth0 writes
// them), keeps the outbox, and delivers it over SMTP.
package mail

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/osteele/liquid"
	"github.com/osteele/liquid/parser"
	"github.com/osteele/liquid/render"
)

// Engine renders Liquid the way Auth0's templates expect. It keeps parsed
// templates, since the same few are rendered for every mail and page.
//
// Templates are written by whoever holds a template scope, and what they
// render lands in public pages and in mail: an Engine gives them the
// variables they are handed and nothing else. It has no file system (see
// fileTags), and HTML output escapes every value unless the template says
// otherwise (see RenderHTML).
type Engine struct {
	liquid *liquid.Engine
	mu     sync.Mutex
	parsed map[string]*liquid.Template // by mode, name and source
	// renderTime bounds one render (see budget.go).
	renderTime time.Duration
}

// NewEngine returns a Liquid engine for email and page templates.
func NewEngine() *Engine {
	l := liquid.NewEngine()
	// The standard include tag reads any file the process can read, relative
	// to its working directory. Defining the tag anew takes that path away
	// from the engine altogether; a template naming it is also refused
	// when parsed (refuseFileTags), so this only matters as a second wall.
	l.RegisterTag("include", func(render.Context) (string, error) { return "", errNoFiles })
	boundRenders(l)
	l.RegisterFilter(escapeFilter, escapeOutput)
	l.RegisterFilter("raw", func(v any) any { return v })
	return &Engine{liquid: l, parsed: map[string]*liquid.Template{}, renderTime: defaultRenderTime}
}

// fileTags are the Liquid tags that read other templates from files
// (Shopify's and LiquidJS's; osteele/liquid knows only include). Usher
// templates are one text each and never read a file.
var fileTags = map[string]bool{"include": true, "render": true, "layout": true, "section": true, "include_relative": true}

var errNoFiles = errors.New("templates cannot read files: include, render and layout are not available")

// parse returns src parsed, from the cache when it was parsed before. With
// escape, every output is HTML-escaped unless it asks otherwise.
func (e *Engine) parse(name, src string, escape bool) (t *liquid.Template, err error) {
	key := fmt.Sprintf("%t\x00%s\x00%s", escape, name, src)
	e.mu.Lock()
	t, ok := e.parsed[key]
	e.mu.Unlock()
	if ok {
		return t, nil
	}
	// The parser is fed whatever a tenant saves; a panic in it must be a
	// refused template, not a crashed request.
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, &Error{Template: name, Reason: fmt.Sprintf("the template cannot be parsed (%v)", r)}
		}
	}()
	if err := refuseFileTags(name, src); err != nil {
		return nil, err
	}
	text := src
	if escape {
		// Errors are found, and told, in the text the tenant wrote.
		if _, err := e.parse(name, src, false); err != nil {
			return nil, err
		}
		text = escapeOutputs(src)
	}
	text = stepped(text)
	t, perr := e.liquid.ParseTemplateLocation([]byte(text), name, 1)
	if perr != nil {
		return nil, templateError(name, perr)
	}
	if err := walkTags(t.GetRoot(), name); err != nil {
		return nil, err
	}
	e.mu.Lock()
	if len(e.parsed) >= 256 { // templates change rarely; old versions need not stay
		clear(e.parsed)
	}
	e.parsed[key] = t
	e.mu.Unlock()
	return t, nil
}

// refuseFileTags names the first line that uses a tag reading a file. It
// reads the source with the engine's own scanner, so it sees the tags the
// engine would run.
func refuseFileTags(name, src string) error {
	return eachToken(src, parser.SourceLoc{Pathname: name, LineNo: 1}, func(tok parser.Token, live bool) error {
		if live && tok.Type == parser.TagTokenType && fileTags[tok.Name] {
			return &Error{Template: name, Line: tok.SourceLoc.LineNo, Reason: "{% " + tok.Name + " %}: " + errNoFiles.Error()}
		}
		return nil
	})
}

// eachToken calls fn with each token the engine's scanner finds in src,
// and whether the parser runs it: inside raw and comment blocks everything
// is text to the parser. It stops at fn's first error.
func eachToken(src string, loc parser.SourceLoc, fn func(tok parser.Token, live bool) error) error {
	inRaw, inComment := false, false
	for _, tok := range parser.Scan(src, loc, nil) {
		live := !inRaw && !inComment
		if tok.Type == parser.TagTokenType {
			switch {
			case inRaw:
				inRaw = tok.Name != "endraw"
			case inComment:
				inComment = tok.Name != "endcomment"
			default:
				inRaw, inComment = tok.Name == "raw", tok.Name == "comment"
			}
		}
		if err := fn(tok, live); err != nil {
			return err
		}
	}
	return nil
}

// walkTags checks the parsed tree for a tag that reads files, in case the
// scanner and the parser ever disagree on what a tag is.
func walkTags(n render.Node, name string) error {
	switch n := n.(type) {
	case *render.SeqNode:
		for _, c := range n.Children {
			if err := walkTags(c, name); err != nil {
				return err
			}
		}
	case *render.BlockNode:
		if fileTags[n.Name] {
			return &Error{Template: name, Line: n.SourceLoc.LineNo, Reason: "{% " + n.Name + " %}: " + errNoFiles.Error()}
		}
		for _, c := range n.Body {
			if err := walkTags(c, name); err != nil {
				return err
			}
		}
		for _, c := range n.Clauses {
			if err := walkTags(c, name); err != nil {
				return err
			}
		}
	case *render.TagNode:
		if fileTags[n.Name] {
			return &Error{Template: name, Line: n.SourceLoc.LineNo, Reason: "{% " + n.Name + " %}: " + errNoFiles.Error()}
		}
	}
	return nil
}

// Error is a template that does not parse or render, with the line it broke on.
type Error struct {
	Template string
	Line     int
	Reason   string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("template %s, line %d: %s", e.Template, e.Line, e.Reason)
	}
	return fmt.Sprintf("template %s: %s", e.Template, e.Reason)
}

var liquidErr = regexp.MustCompile(`^Liquid error \(line (\d+)\): (.*?)(?: in \S+)?$`)

func templateError(name string, err error) error {
	msg := err.Error()
	if m := liquidErr.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscanf(m[1], "%d", &line)
		return &Error{Template: name, Line: line, Reason: m[2]}
	}
	return &Error{Template: name, Reason: msg}
}

// Check parses src and renders it once against sample values, so that a
// broken template is refused when it is saved and never fails at send time.
func (e *Engine) Check(name, src string) error {
	if line, ok := unclosed(src); !ok {
		return &Error{Template: name, Line: line, Reason: "a {{ or {% is never closed"}
	}
	for _, escape := range []bool{false, true} {
		if _, err := e.render(name, src, SampleVars(), escape); err != nil {
			return err
		}
	}
	return nil
}

// Render renders src with vars as text: the subject and From of a mail, or
// a page whose values are trusted or escaped by the template itself.
func (e *Engine) Render(name, src string, vars map[string]any) (string, error) {
	return e.render(name, src, vars, false)
}

// RenderHTML renders src with vars as HTML: the value of every {{ output }}
// is HTML-escaped, so that a name someone typed stays text. An output whose
// last filter is escape or escape_once is escaped once, by that filter; one
// ending in | raw is left as it is (LiquidJS's spelling for the same).
func (e *Engine) RenderHTML(name, src string, vars map[string]any) (string, error) {
	return e.render(name, src, vars, true)
}

// maxOutput bounds what one template may render: a loop over a large range
// is refused rather than filling memory.
const maxOutput = 4 << 20

func (e *Engine) render(name, src string, vars map[string]any, escape bool) (out string, err error) {
	t, err := e.parse(name, src, escape)
	if err != nil {
		return "", err
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", &Error{Template: name, Reason: fmt.Sprintf("the template cannot be rendered (%v)", r)}
		}
	}()
	w := &limitedBuilder{max: maxOutput}
	if rerr := t.FRender(w, withBudget(vars, e.renderTime)); rerr != nil {
		return "", templateError(name, rerr)
	}
	return w.String(), nil
}

// limitedBuilder is a strings.Builder that refuses to grow past max.
type limitedBuilder struct {
	strings.Builder
	max int
}

var errTooLong = fmt.Errorf("the template renders more than %d bytes", maxOutput)

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errTooLong
	}
	return b.Builder.Write(p)
}

// WriteString implements io.StringWriter with the same limit.
func (b *limitedBuilder) WriteString(s string) (int, error) {
	if b.Len()+len(s) > b.max {
		return 0, errTooLong
	}
	return b.Builder.WriteString(s)
}

// unclosed finds a {{ or {% without its closing delimiter, which the Liquid
// engine would otherwise print as text.
func unclosed(src string) (line int, ok bool) {
	for i := 0; i < len(src); i++ {
		if src[i] != '{' || i+1 >= len(src) || (src[i+1] != '{' && src[i+1] != '%') {
			continue
		}
		closer := "}}"
		if src[i+1] == '%' {
			closer = "%}"
		}
		end := strings.Index(src[i+2:], closer)
		if end < 0 {
			return 1 + strings.Count(src[:i], "\n"), false
		}
		i += end + 3
	}
	return 0, true
}

// SampleVars are values every template can be checked and previewed with.
func SampleVars() map[string]any {
	return map[string]any{
		"user": map[string]any{
			"user_id": "auth0|0123456789abcdef01234567", "email": "ada@example.com", "email_verified": false,
			"name": "Ada Lovelace", "nickname": "ada", "given_name": "Ada", "family_name": "Lovelace",
			"app_metadata": map[string]any{"needsInvitation": true}, "user_metadata": map[string]any{},
		},
		"url":              "https://id.example.com/lo/reset?ticket=sample#",
		"code":             "123456",
		"application":      map[string]any{"name": "Example App", "clientID": "sampleclientid", "callback_domain": "https://app.example.com"},
		"client":           map[string]any{"name": "Example App", "clientID": "sampleclientid", "callback_domain": "https://app.example.com"},
		"connection":       map[string]any{"name": "Username-Password-Authentication"},
		"tenant":           "usher",
		"friendly_name":    "Example",
		"support_email":    "support@example.com",
		"support_url":      "https://example.com/support",
		"request_language": "en",
		"inviter":          map[string]any{"name": "Grace Hopper"},
		"link_expires_at":  "Monday 9 March 2026, 14:05 UTC",
	}
}

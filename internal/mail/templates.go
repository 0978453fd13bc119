// Package mail renders Usher's email templates (Liquid, as Auth0 writes
// them), keeps the outbox, and delivers it over SMTP.
package mail

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/osteele/liquid"
)

// Engine renders Liquid the way Auth0's templates expect. It keeps parsed
// templates, since the same few are rendered for every mail and page.
type Engine struct {
	liquid *liquid.Engine
	mu     sync.Mutex
	parsed map[string]*liquid.Template // by name and source
}

// NewEngine returns a Liquid engine for email and page templates.
func NewEngine() *Engine {
	return &Engine{liquid: liquid.NewEngine(), parsed: map[string]*liquid.Template{}}
}

// parse returns src parsed, from the cache when it was parsed before.
func (e *Engine) parse(name, src string) (*liquid.Template, error) {
	key := name + "\x00" + src
	e.mu.Lock()
	t, ok := e.parsed[key]
	e.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := e.liquid.ParseTemplateLocation([]byte(src), name, 1)
	if err != nil {
		return nil, templateError(name, err)
	}
	e.mu.Lock()
	if len(e.parsed) >= 256 { // templates change rarely; old versions need not stay
		clear(e.parsed)
	}
	e.parsed[key] = t
	e.mu.Unlock()
	return t, nil
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
	t, err := e.parse(name, src)
	if err != nil {
		return err
	}
	if _, err := t.Render(SampleVars()); err != nil {
		return templateError(name, err)
	}
	return nil
}

// Render renders src with vars.
func (e *Engine) Render(name, src string, vars map[string]any) (string, error) {
	t, err := e.parse(name, src)
	if err != nil {
		return "", err
	}
	out, err := t.Render(vars)
	if err != nil {
		return "", templateError(name, err)
	}
	return string(out), nil
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
	}
}

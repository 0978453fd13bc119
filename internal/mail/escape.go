package mail

import (
	"fmt"
	"html"
	"reflect"
	"strings"
	"time"

	"github.com/osteele/liquid/parser"
)

// escapeFilter is the filter escapeOutputs appends to every output of an
// HTML template. Its name cannot be typed as a filter by mistake.
const escapeFilter = "usher_autoescape"

// escapeOutputs returns src with escapeFilter appended to each {{ output }}
// that does not already end in escape, escape_once or raw. osteele/liquid
// has no autoescape setting; rewriting the outputs, found with the
// engine's own scanner, gives the same effect. Outputs inside raw and
// comment blocks are text to the parser and stay untouched. Lines do not
// move, so errors still name the line the tenant wrote.
func escapeOutputs(src string) string {
	var out strings.Builder
	eachToken(src, parser.SourceLoc{LineNo: 1}, func(tok parser.Token, live bool) error {
		switch tok.Type {
		case parser.ObjTokenType:
			if live && !escapedBy(tok.Args) {
				if i := strings.Index(tok.Source[2:], tok.Args); i >= 0 {
					at := 2 + i + len(tok.Args)
					out.WriteString(tok.Source[:at] + " | " + escapeFilter + tok.Source[at:])
					return nil
				}
			}
		case parser.TrimLeftTokenType, parser.TrimRightTokenType:
			return nil // markers only: their "-" is in the next or previous token's source
		}
		out.WriteString(tok.Source)
		return nil
	})
	return out.String()
}

// escapedBy reports whether an output expression ends in a filter that
// decides its escaping itself.
func escapedBy(expr string) bool {
	last, quote := -1, byte(0)
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '|':
			last = i
		}
	}
	if last < 0 {
		return false
	}
	name := strings.TrimSpace(expr[last+1:])
	if i := strings.IndexAny(name, ": \t\r\n"); i >= 0 {
		name = name[:i]
	}
	return name == "escape" || name == "escape_once" || name == "raw"
}

// escapeOutput is escapeFilter: the value as the engine would print it,
// HTML-escaped. Numbers, booleans and times print nothing that needs it.
func escapeOutput(v any) any {
	switch v := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, time.Time:
		return v
	case string:
		return html.EscapeString(v)
	case []byte:
		return html.EscapeString(string(v))
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Array, reflect.Slice:
		// The engine prints a list as its items run together.
		var b strings.Builder
		for i := range rv.Len() {
			switch item := escapeOutput(rv.Index(i).Interface()).(type) {
			case nil:
			case time.Time:
				b.WriteString(item.Format("2006-01-02 15:04:05 -0700"))
			default:
				fmt.Fprint(&b, item)
			}
		}
		return b.String()
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return escapeOutput(rv.Elem().Interface())
	}
	return html.EscapeString(fmt.Sprint(v))
}

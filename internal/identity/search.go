package identity

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/usherid/usher/internal/errs"
)

// Bounds on a users search (the q parameter). Auth0 documents none beyond
// the URL's length; a query joins terms with AND only, so a few are all
// that make sense, and each one becomes an SQL argument or two.
const (
	// MaxSearchLength bounds q in bytes.
	MaxSearchLength = 4096
	// MaxSearchTerms bounds how many field:value terms q joins.
	MaxSearchTerms = 32
)

var metadataKey = regexp.MustCompile(`^(app_metadata|user_metadata)\.[A-Za-z0-9_\-]{1,100}$`)

var searchFields = []string{"email", "user_id", "name", "nickname", "username", "given_name", "family_name", "email_verified", "blocked", "identities.connection", "phone_number"}

// ParseUserSearch reads the part of Auth0's user search syntax (the q
// parameter) that Usher supports: field:value terms joined by spaces or AND,
// values optionally quoted, a trailing * for a prefix match, and
// app_metadata.KEY / user_metadata.KEY for top-level metadata values.
func ParseUserSearch(q string) (UserFilter, error) {
	var f UserFilter
	if len(q) > MaxSearchLength {
		return f, badQuery("The query is longer than %d bytes", MaxSearchLength)
	}
	if !utf8.ValidString(q) {
		return f, badQuery("The query is not valid UTF-8")
	}
	if i := strings.IndexFunc(q, unicode.IsControl); i >= 0 {
		return f, badQuery("The query holds a control character at byte %d", i)
	}
	tokens, err := splitSearch(q)
	if err != nil {
		return f, err
	}
	for _, tok := range tokens {
		if tok == "AND" {
			continue
		}
		if tok == "OR" || tok == "NOT" {
			return f, badQuery("Usher's user search joins terms with AND only, not %s", tok)
		}
		field, value, ok := strings.Cut(tok, ":")
		if !ok || value == "" {
			return f, badQuery("Expected field:value, got %q", Clip(tok))
		}
		t := Term{Field: field}
		if unq, err := strconv.Unquote(value); err == nil && strings.HasPrefix(value, `"`) {
			t.Value = unq
		} else {
			t.Value = value
			if strings.HasSuffix(value, "*") {
				t.Value, t.Prefix = strings.TrimSuffix(value, "*"), true
			}
		}
		// A quoted value's escapes (\x00, \xff) can make what q itself may
		// not hold, and PostgreSQL refuses NUL and broken UTF-8 with an error.
		if !utf8.ValidString(t.Value) || strings.IndexFunc(t.Value, unicode.IsControl) >= 0 {
			return f, badQuery("The value of %s holds a control character or is not valid UTF-8", Clip(field))
		}
		switch {
		case metadataKey.MatchString(field):
			if t.Prefix {
				return f, badQuery("Wildcards are not supported on %s", field)
			}
			t.JSON = metadataJSON(value, t.Value)
		case contains(searchFields, field):
			if (field == "email_verified" || field == "blocked") && t.Value != "true" && t.Value != "false" {
				return f, badQuery("%s takes true or false", field)
			}
		default:
			return f, badQuery("Usher cannot search on %q; it supports %s, app_metadata.KEY and user_metadata.KEY", Clip(field), strings.Join(searchFields, ", "))
		}
		if len(f.Terms) == MaxSearchTerms {
			return f, badQuery("A query joins at most %d terms", MaxSearchTerms)
		}
		f.Terms = append(f.Terms, t)
	}
	return f, nil
}

// metadataJSON is the JSON text a metadata value is compared with: an
// unquoted true, false or JSON number matches those JSON values; anything
// else matches a string. A number is written as Go writes the stored one
// (metadata is decoded to float64 and encoded again), so 1e21 finds 1e+21.
func metadataJSON(raw, value string) string {
	if !strings.HasPrefix(raw, `"`) {
		if raw == "true" || raw == "false" {
			return raw
		}
		if raw != "" && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') && json.Valid([]byte(raw)) {
			if n, err := strconv.ParseFloat(raw, 64); err == nil {
				b, _ := json.Marshal(n)
				return string(b)
			}
		}
	}
	b, _ := json.Marshal(value)
	return string(b)
}

func splitSearch(q string) ([]string, error) {
	var tokens []string
	var cur strings.Builder
	inQuote, escaped := false, false
	for _, r := range q {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && inQuote:
			escaped = true
		case r == '"':
			inQuote = !inQuote
		case r == ' ' && !inQuote:
			if cur.Len() > 0 {
				tokens = append(tokens, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if inQuote {
		return nil, badQuery("Unterminated quoted value")
	}
	if cur.Len() > 0 {
		tokens = append(tokens, cur.String())
	}
	return tokens, nil
}

func badQuery(format string, args ...any) error {
	return errs.Invalid("invalid_query_string", "Query validation error: "+format, args...)
}

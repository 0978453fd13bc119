package identity

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/usherid/usher/internal/errs"
)

// The seed corpora live in testdata/fuzz/FuzzXxx/; a crash the fuzzer finds
// is kept there too, so plain `go test` replays it for good.

// FuzzParseUserSearch parses arbitrary users queries: a query is refused
// with a 400-kind error, or becomes terms the store can always run.
func FuzzParseUserSearch(f *testing.F) {
	f.Fuzz(func(t *testing.T, q string) {
		filter, err := ParseUserSearch(q)
		if err != nil {
			if errs.KindOf(err) != errs.KindInvalid {
				t.Fatalf("%q: %v is not a domain error", q, err)
			}
			return
		}
		if len(filter.Terms) > MaxSearchTerms {
			t.Fatalf("%q: %d terms", q, len(filter.Terms))
		}
		for _, term := range filter.Terms {
			if !utf8.ValidString(term.Value) || strings.IndexFunc(term.Value, unicode.IsControl) >= 0 {
				t.Fatalf("%q: term value %q would reach the database", q, term.Value)
			}
			if metadataKey.MatchString(term.Field) {
				var v any
				if err := json.Unmarshal([]byte(term.JSON), &v); err != nil {
					t.Fatalf("%q: term JSON %q is not JSON", q, term.JSON)
				}
				if _, isObject := v.(map[string]any); isObject {
					t.Fatalf("%q: term JSON %q is an object", q, term.JSON)
				}
				if term.Prefix {
					t.Fatalf("%q: a prefix on metadata", q)
				}
				continue
			}
			if !contains(searchFields, term.Field) || term.JSON != "" {
				t.Fatalf("%q: term %+v", q, term)
			}
		}
	})
}

// FuzzCheckMetadata: whatever JSON metadata the gate lets through is within
// the bounds, and the gate itself never panics.
func FuzzCheckMetadata(f *testing.F) {
	f.Fuzz(func(t *testing.T, app, user []byte) {
		var a, u map[string]any
		if json.Unmarshal(app, &a) != nil || json.Unmarshal(user, &u) != nil {
			return
		}
		if err := CheckMetadata(a, u); err != nil {
			if errs.KindOf(err) != errs.KindInvalid {
				t.Fatalf("%v is not a domain error", err)
			}
			return
		}
		ab, _ := json.Marshal(a)
		ub, _ := json.Marshal(u)
		if len(ab)+len(ub) > MaxMetadataBytes {
			t.Fatalf("%d bytes passed", len(ab)+len(ub))
		}
		if d := jsonDepth(a); d > MaxMetadataDepth {
			t.Fatalf("depth %d passed", d)
		}
		if d := jsonDepth(u); d > MaxMetadataDepth {
			t.Fatalf("depth %d passed", d)
		}
		if bytes.Contains(ab, []byte(`\u0000`)) || bytes.Contains(ub, []byte(`\u0000`)) {
			t.Fatalf("a NUL passed")
		}
	})
}

// jsonDepth is how deep objects and arrays nest in v (0 for a scalar).
func jsonDepth(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, jsonDepth(e))
		}
		return d + 1
	case []any:
		for _, e := range v {
			d = max(d, jsonDepth(e))
		}
		return d + 1
	}
	return 0
}

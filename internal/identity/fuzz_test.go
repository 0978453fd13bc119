package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/usherid/usher/internal/errs"
)

// The seed corpora live in testdata/fuzz/FuzzXxx/; a crash the fuzzer finds
// is kept there too, so plain `go test` replays it for good.

// FuzzRowReaderJSON reads arbitrary bytes as a JSON users file.
func FuzzRowReaderJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, file []byte) { readAllRows(t, file, "json") })
}

// FuzzRowReaderCSV reads arbitrary bytes as a CSV users file.
func FuzzRowReaderCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, file []byte) { readAllRows(t, file, "csv") })
}

// readAllRows checks what any file may do: the reader answers rows (each a
// JSON text, on a line no earlier than the last) and then io.EOF or one
// domain error; every row is checked as an import checks it; nothing panics.
func readAllRows(t *testing.T, file []byte, format string) {
	r, err := NewRowReader(bytes.NewReader(file), format)
	if err != nil {
		if errs.KindOf(err) != errs.KindInvalid {
			t.Fatalf("NewRowReader: %v is not a domain error", err)
		}
		return
	}
	var last int64
	for i := 0; ; i++ {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if errs.KindOf(err) != errs.KindInvalid {
				t.Fatalf("row %d: %v is not a domain error", i, err)
			}
			return
		}
		if i > len(file) {
			t.Fatalf("more rows than bytes")
		}
		if !json.Valid(row.Raw) {
			t.Fatalf("row %d is not JSON: %q", i, row.Raw)
		}
		if row.Line < 1 || row.Line < last {
			t.Fatalf("row %d on line %d after line %d", i, row.Line, last)
		}
		last = row.Line
		rec, errs := decodeRecord(row.Raw)
		if len(errs) > 0 {
			continue
		}
		if err := CheckMetadata(rec.AppMetadata, rec.UserMetadata); err != nil {
			t.Fatalf("row %d passed the checks with metadata the gate refuses: %v", i, err)
		}
		if _, err := NormalizeEmail(rec.Email); err != nil {
			t.Fatalf("row %d passed the checks with email %q", i, rec.Email)
		}
		if h := rec.passwordHash(); h != "" && CheckImportedHash(h, "password_hash") != nil {
			t.Fatalf("row %d passed the checks with hash %q", i, h)
		}
	}
}

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

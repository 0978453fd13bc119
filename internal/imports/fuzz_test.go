package imports

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
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
		if err := identity.CheckMetadata(rec.AppMetadata, rec.UserMetadata); err != nil {
			t.Fatalf("row %d passed the checks with metadata the gate refuses: %v", i, err)
		}
		if _, err := identity.NormalizeEmail(rec.Email); err != nil {
			t.Fatalf("row %d passed the checks with email %q", i, rec.Email)
		}
		if h := rec.passwordHash(); h != "" && identity.CheckImportedHash(h, "password_hash") != nil {
			t.Fatalf("row %d passed the checks with hash %q", i, h)
		}
	}
}

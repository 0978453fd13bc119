package imports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// Row is one record of a users file, as given, with where it starts.
type Row struct {
	Line int64           // the file line the record starts on
	Raw  json.RawMessage // the record as a JSON object (a CSV row is converted)
}

// RowReader reads a users file one record at a time, never holding more than
// a record (and the decoder's buffer) in memory.
type RowReader struct {
	next  func() (Row, error)
	count *countingReader
}

// Offset is how many bytes of the file have been read.
func (r *RowReader) Offset() int64 { return r.count.n }

// Next returns the next record, or io.EOF after the last. Any other error
// means the file itself is broken at that point.
func (r *RowReader) Next() (Row, error) { return r.next() }

// NewRowReader reads Auth0's bulk-import JSON (an array of user objects) or,
// when format is "csv", CSV with a header row naming the same fields.
func NewRowReader(src io.Reader, format string) (*RowReader, error) {
	count := &countingReader{r: src}
	switch format {
	case "", "json":
		return jsonRows(count)
	case "csv":
		return csvRows(count)
	}
	return nil, errs.Invalid("invalid_body", "The file format must be json or csv.")
}

// Format is the format of a users file: csv for a .csv file name or a
// text/csv part, else json (Auth0's bulk-import file).
func Format(fileName, contentType string) string {
	if strings.EqualFold(path.Ext(fileName), ".csv") || strings.HasPrefix(contentType, "text/csv") {
		return "csv"
	}
	return "json"
}

// MaxRecordBytes bounds one record of a users file (with the space
// before it): a record is read whole before it is checked, so without a
// bound one enormous record would be held in memory. A request body of the
// Management API has the same bound, and a valid record is far smaller.
const MaxRecordBytes = 1 << 20

// errRecordTooLarge stops the reading of a record past MaxRecordBytes.
var errRecordTooLarge = errors.New("record too large")

// countingReader counts the bytes read and where each line ends, and reads
// no further than limit (when set). It keeps the offsets of the newlines
// from the current record's start on only, counting those before: no line
// asked about is before the record being read, so what it keeps is bounded
// by a record and the parser's buffer, whatever the file's size.
type countingReader struct {
	r        io.Reader
	n        int64
	limit    int64
	newlines []int64 // offsets of the newlines from the current record's start on
	passed   int64   // newlines before them
}

// allowFrom starts the record at offset: the reader goes no further than
// MaxRecordBytes past it, and forgets where the lines before it end. A
// parser asks for more only when its record goes on, so the error comes
// exactly for a longer record.
func (c *countingReader) allowFrom(offset int64) {
	c.limit = offset + MaxRecordBytes
	k := 0
	for k < len(c.newlines) && c.newlines[k] < offset {
		k++
	}
	c.passed += int64(k)
	c.newlines = c.newlines[k:]
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.limit > 0 {
		if c.n >= c.limit {
			return 0, errRecordTooLarge
		}
		if rest := c.limit - c.n; int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	n, err := c.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		c.newlines = append(c.newlines, c.n+int64(i+j))
		i += j + 1
	}
	c.n += int64(n)
	return n, err
}

// lineAt is the 1-based line of offset, which is in the current record or
// read after it; an offset before the record's start is on its first line.
func (c *countingReader) lineAt(offset int64) int64 {
	k := 0
	for k < len(c.newlines) && c.newlines[k] < offset {
		k++
	}
	return c.passed + int64(k) + 1
}

func jsonRows(count *countingReader) (*RowReader, error) {
	dec := json.NewDecoder(count)
	count.allowFrom(0)
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, errs.Invalid("invalid_body", "Users file must not be empty.")
	}
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '[' {
		return nil, errs.Invalid("invalid_body", "The users file must be a JSON array of user objects.")
	}
	ended := false
	next := func() (Row, error) {
		count.allowFrom(dec.InputOffset())
		if ended || !dec.More() {
			if !ended {
				ended = true
				if _, err := dec.Token(); err != nil {
					return Row{}, fileError(count, dec.InputOffset(), err)
				}
			}
			return Row{}, io.EOF
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Row{}, fileError(count, dec.InputOffset(), err)
		}
		return Row{Line: count.lineAt(dec.InputOffset() - int64(len(raw))), Raw: raw}, nil
	}
	return &RowReader{next: next, count: count}, nil
}

func fileError(count *countingReader, offset int64, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, errRecordTooLarge):
		return errs.Invalid("invalid_body", "The users file has a record longer than %d bytes, at line %d.", MaxRecordBytes, count.lineAt(offset))
	case errors.As(err, &se):
		offset = se.Offset
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.Invalid("invalid_body", "The users file ends inside a record, at line %d.", count.lineAt(count.n-1))
	}
	return errs.Invalid("invalid_body", "The users file is not valid JSON at line %d: %v.", count.lineAt(offset), err)
}

// csvColumns are the fields a CSV header may name, with how a cell becomes
// JSON; app_metadata.KEY and user_metadata.KEY columns set one key.
var csvColumns = map[string]string{
	"email": "string", "email_verified": "bool", "phone_number": "string", "phone_verified": "bool",
	"user_id": "string", "username": "string", "given_name": "string", "family_name": "string",
	"name": "string", "nickname": "string", "picture": "string", "blocked": "bool",
	"password_hash": "string", "app_metadata": "json", "user_metadata": "json",
}

func csvRows(count *countingReader) (*RowReader, error) {
	cr := csv.NewReader(count)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0 // every row has as many cells as the header
	count.allowFrom(0)
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errs.Invalid("invalid_body", "Users file must not be empty.")
	} else if errors.Is(err, errRecordTooLarge) {
		return nil, errs.Invalid("invalid_body", "The users file's header is longer than %d bytes.", MaxRecordBytes)
	} else if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
		return nil, csvError(pe, len(header), len(header))
	} else if err != nil {
		return nil, errs.Invalid("invalid_body", "The users file is not valid CSV: %v.", err)
	}
	header = append([]string(nil), header...)
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[i] = h
		top, _, nested := strings.Cut(h, ".")
		if _, ok := csvColumns[h]; !ok && !(nested && (top == "app_metadata" || top == "user_metadata")) {
			return nil, errs.Invalid("invalid_body", "The CSV header names an unknown column %q; the columns are Auth0's bulk-import fields (email, email_verified, name, password_hash, app_metadata, ...) and app_metadata.KEY or user_metadata.KEY.", h)
		}
	}
	next := func() (Row, error) {
		count.allowFrom(cr.InputOffset())
		rec, err := cr.Read()
		if err == io.EOF {
			return Row{}, io.EOF
		}
		if errors.Is(err, errRecordTooLarge) {
			return Row{}, errs.Invalid("invalid_body", "The users file has a record longer than %d bytes, after line %d.", MaxRecordBytes, count.lineAt(count.n-1)-1)
		}
		if err != nil {
			// FieldPos is not for a record that failed: it panics when
			// the record broke before its first field ended.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return Row{}, csvError(pe, len(header), len(rec))
			}
			return Row{}, errs.Invalid("invalid_body", "The users file is not valid CSV after line %d: %v.", count.lineAt(count.n-1)-1, err)
		}
		line, _ := cr.FieldPos(0)
		raw, err := csvRecord(header, rec)
		if err != nil {
			return Row{}, err
		}
		return Row{Line: int64(line), Raw: raw}, nil
	}
	return &RowReader{next: next, count: count}, nil
}

// csvQuoting is how a CSV cell holding quotes, commas or JSON is written.
const csvQuoting = `a cell holding quotes, commas or JSON goes in double quotes, its own quotes doubled, e.g. "{""team"":""core""}"`

// csvError says where a CSV file breaks (line and column) and, for the
// usual mistakes, how to write the cell.
func csvError(pe *csv.ParseError, headerCells, cells int) error {
	switch {
	case errors.Is(pe.Err, csv.ErrFieldCount):
		return errs.Invalid("invalid_body", "The users file is not valid CSV at line %d: it has %d cells where the header has %d; %s.", pe.StartLine, cells, headerCells, csvQuoting)
	case errors.Is(pe.Err, csv.ErrBareQuote), errors.Is(pe.Err, csv.ErrQuote):
		return errs.Invalid("invalid_body", "The users file is not valid CSV at line %d, column %d: %v; %s.", pe.Line, pe.Column, identity.Clip(pe.Err.Error()), csvQuoting)
	}
	return errs.Invalid("invalid_body", "The users file is not valid CSV at line %d, column %d: %v.", pe.Line, pe.Column, identity.Clip(pe.Err.Error()))
}

// csvRecord turns a CSV row into the JSON object Auth0's format would hold.
// An empty cell leaves the field out; a cell that cannot become its field's
// type stays a string, for the row's validation to report.
func csvRecord(header, rec []string) (json.RawMessage, error) {
	obj := make(map[string]any, len(header))
	for i, h := range header {
		cell := rec[i]
		if cell == "" {
			continue
		}
		if top, key, nested := strings.Cut(h, "."); nested {
			meta, _ := obj[top].(map[string]any)
			if meta == nil {
				meta = map[string]any{}
				obj[top] = meta
			}
			meta[key] = cell
			continue
		}
		switch csvColumns[h] {
		case "bool":
			if b, err := strconv.ParseBool(cell); err == nil {
				obj[h] = b
				continue
			}
		case "json":
			var v any
			if json.Unmarshal([]byte(cell), &v) == nil {
				if m, ok := v.(map[string]any); ok {
					if prev, ok := obj[h].(map[string]any); ok {
						for k, v := range prev {
							m[k] = v
						}
					}
				}
				obj[h] = v
				continue
			}
		}
		obj[h] = cell
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("csv row: %w", err)
	}
	return b, nil
}

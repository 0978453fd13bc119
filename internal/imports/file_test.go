package imports

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

func TestRowReader(t *testing.T) {
	cases := []struct {
		name, format, file string
		rows               []string // "line:record"
		err                string   // of the row after the last, when the file breaks
	}{
		{"json one per line", "json", "[\n{\"email\":\"a@x.io\"},\n{\"email\":\"b@x.io\"}\n]", []string{`2:{"email":"a@x.io"}`, `3:{"email":"b@x.io"}`}, ""},
		{"json records over lines", "json", "[{\n \"email\": \"a@x.io\"\n}, {\"email\":\n\"b@x.io\"}]", []string{"1:{\n \"email\": \"a@x.io\"\n}", "3:{\"email\":\n\"b@x.io\"}"}, ""},
		{"json empty array", "json", "[]", nil, ""},
		{"json broken half way", "json", "[\n{\"email\":\"a@x.io\"},\n{\"email\" \"b@x.io\"}\n]", []string{`2:{"email":"a@x.io"}`}, "line 3"},
		{"json cut short", "json", "[\n{\"email\":\"a@x.io\"},\n{\"email\":\"b", []string{`2:{"email":"a@x.io"}`}, "ends inside a record, at line 3"},
		{"csv with metadata columns", "csv", "email,email_verified,app_metadata,app_metadata.plan,user_metadata.team\na@x.io,true,\"{\"\"k\"\":1}\",gold,core\nb@x.io,,,,\n",
			[]string{`2:{"app_metadata":{"k":1,"plan":"gold"},"email":"a@x.io","email_verified":true,"user_metadata":{"team":"core"}}`, `3:{"email":"b@x.io"}`}, ""},
		{"csv keeps a bad cell for validation", "csv", "email,blocked\na@x.io,perhaps\n", []string{`2:{"blocked":"perhaps","email":"a@x.io"}`}, ""},
		{"csv quoted newline", "csv", "email,name\n\"a@x.io\",\"two\nlines\"\nb@x.io,b\n", []string{`2:{"email":"a@x.io","name":"two\nlines"}`, `4:{"email":"b@x.io","name":"b"}`}, ""},
		{"csv short row", "csv", "email,name\na@x.io\n", nil, "line 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewRowReader(strings.NewReader(c.file), c.format)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				row, err := r.Next()
				if errors.Is(err, io.EOF) {
					if c.err != "" {
						t.Fatalf("no error, want one with %q", c.err)
					}
					break
				}
				if err != nil {
					if c.err == "" || !strings.Contains(err.Error(), c.err) {
						t.Fatalf("error %v, want %q", err, c.err)
					}
					break
				}
				got = append(got, strconv.FormatInt(row.Line, 10)+":"+string(row.Raw))
			}
			if strings.Join(got, "|") != strings.Join(c.rows, "|") {
				t.Fatalf("rows\n%q\nwant\n%q", got, c.rows)
			}
		})
	}
	for _, c := range []struct{ format, file, err string }{
		{"json", "", "must not be empty"},
		{"json", `{"email":"a@x.io"}`, "must be a JSON array"},
		{"csv", "", "must not be empty"},
		{"csv", "email,colour\n", `unknown column "colour"`},
		{"xml", "<users/>", "json or csv"},
	} {
		if _, err := NewRowReader(strings.NewReader(c.file), c.format); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s %q: %v, want %q", c.format, c.file, err, c.err)
		}
	}
}

// TestRowReaderBoundsARecord: one record longer than MaxRecordBytes
// ends the file with an error instead of being read into memory whole, and
// records up to the bound still read.
func TestRowReaderBoundsARecord(t *testing.T) {
	long := strings.Repeat("x", MaxRecordBytes)
	fits := strings.Repeat("x", MaxRecordBytes-100)
	for _, c := range []struct {
		format, file string
		rows         int
		err          string
	}{
		{"json", `[{"email":"a@x.io","name":"` + fits + `"},{"email":"b@x.io","name":"` + long + `"}]`, 1, "longer than 1048576 bytes, at line 1"},
		{"json", "[\n{\"email\":\"a@x.io\"}," + strings.Repeat(" ", 2*MaxRecordBytes) + "{\"email\":\"b@x.io\"}]", 1, "longer than"},
		{"csv", "email,name\na@x.io," + fits + "\nb@x.io," + long + "\n", 1, "longer than 1048576 bytes, after line 2"},
		{"csv", "email," + long + "\n", 0, "header is longer"},
	} {
		r, err := NewRowReader(strings.NewReader(c.file), c.format)
		rows := 0
		for err == nil {
			if _, err = r.Next(); err == nil {
				rows++
			}
		}
		if rows != c.rows || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %d rows, %v; want %d rows, then %q", c.format, rows, err, c.rows, c.err)
		}
	}
}

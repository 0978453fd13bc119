package imports_test

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/imports"
)

// generatedFile is a users file made up as it is read, so that a file far
// larger than the test wants to hold never is in memory: a start, then rows
// numbered from 1 made by row, then an end.
type generatedFile struct {
	start, end string
	rows       int
	row        func(i int) string
	next       int // the next row to make; 0 while the start is read
	buf        []byte
}

func (g *generatedFile) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		switch {
		case g.next == 0:
			g.buf = append(g.buf, g.start...)
		case g.next <= g.rows:
			g.buf = append(g.buf, g.row(g.next)...)
		case g.next == g.rows+1:
			g.buf = append(g.buf, g.end...)
		default:
			return 0, io.EOF
		}
		g.next++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// liveHeap is the memory in use once the garbage is collected.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestRowReaderMemoryStaysFlat reads a long file of short rows and checks
// that what the reader keeps does not grow with the rows read (it once
// kept the offset of every newline of a CSV file: 8 bytes a row, over
// 130 MB for a 1 GB file), and that a row's line and a late error's line
// are still right after that many rows.
func TestRowReaderMemoryStaysFlat(t *testing.T) {
	const rows, early = 400_000, 50_000
	long := strings.Repeat("x", imports.MaxRecordBytes)
	for _, tc := range []struct {
		format     string
		start, end string
		row        func(i int) string
		line       func(i int) int64 // the line row i starts on
		err        string            // of the record too long after the last row
	}{
		{"csv", "email\n", "\"" + long + "\"\n", func(i int) string { return fmt.Sprintf("u%d@x.io\n", i) },
			func(i int) int64 { return int64(i) + 1 }, fmt.Sprintf("after line %d", rows+1)},
		{"json", "[\n", `{"email":"` + long + `"}]`, func(i int) string { return fmt.Sprintf("{\"email\":\"u%d@x.io\"},\n", i) },
			func(i int) int64 { return int64(i) + 1 }, "longer than"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			r, err := imports.NewRowReader(&generatedFile{start: tc.start, end: tc.end, rows: rows, row: tc.row}, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			var before uint64
			for i := 1; i <= rows; i++ {
				row, err := r.Next()
				if err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
				if row.Line != tc.line(i) {
					t.Fatalf("row %d is on line %d, want %d", i, row.Line, tc.line(i))
				}
				if i == early {
					before = liveHeap()
				}
			}
			after := liveHeap()
			t.Logf("live heap at row %d: %d KB; at row %d: %d KB", early, before>>10, rows, after>>10)
			// A byte a row would be 350 KB here; a bounded reader keeps
			// the same few buffers from the first row to the last.
			if after > before && after-before > 256<<10 {
				t.Errorf("the reader's memory grew by %d KB between row %d and row %d", (after-before)>>10, early, rows)
			}
			if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("after the last row: %v, want an error with %q", err, tc.err)
			}
			runtime.KeepAlive(r)
		})
	}
}

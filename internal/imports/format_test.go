package imports_test

import (
	"testing"

	"github.com/usherid/usher/internal/imports"
)

func TestImportFormat(t *testing.T) {
	for _, tc := range []struct{ name, contentType, want string }{
		{"team.csv", "", "csv"},
		{"TEAM.CSV", "application/octet-stream", "csv"},
		{"export", "text/csv; charset=utf-8", "csv"},
		{"users.json", "application/json", "json"},
		{"users", "", "json"},
		{"", "", "json"},
	} {
		if got := imports.Format(tc.name, tc.contentType); got != tc.want {
			t.Errorf("Format(%q, %q) = %q, want %q", tc.name, tc.contentType, got, tc.want)
		}
	}
}

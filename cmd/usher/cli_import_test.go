package main

// What `usher import` says about a file it cannot take whole: where a CSV
// file breaks and how to write the cell, and the failed rows on the
// terminal, not only in the report file.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportTellsWhatWentWrong(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	startServer(t, dsn, nil).stop()
	env := map[string]string{"USHER_DB": dsn}
	dir := t.TempDir()
	file := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// JSON in a cell without quotes: where, and how to write it.
	for _, tc := range []struct {
		name, csv string
		want      []string
	}{
		{"unquoted JSON", "email,app_metadata\nada@example.com,{\"team\":\"core\"}\n",
			[]string{"not valid CSV at line 2, column 18", `"{""team"":""core""}"`}},
		{"a stray quote", "email,name\nada@example.com,Ada \"the first\" L\n",
			[]string{"not valid CSV at line 2, column 21", "double quotes, its own quotes doubled"}},
		{"a comma too many", "email,name\nada@example.com,Lovelace, Ada\n",
			[]string{"not valid CSV at line 2: it has 3 cells where the header has 2", "a cell holding quotes, commas or JSON goes in double quotes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := usher(env, "import", file(strings.ReplaceAll(tc.name, " ", "-")+".csv", tc.csv))
			if code != 1 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}

	// Rows that fail: counted by reason, the first few shown with their
	// line and column, the rest in the report.
	var rows strings.Builder
	rows.WriteString("email,given_name,app_metadata\n")
	rows.WriteString("ada@example.com,Ada,\"{team:core}\"\n")                    // line 2: not JSON
	rows.WriteString("grace@example.com,Grace,\"{\"\"team\"\":\"\"ops\"\"}\"\n") // line 3: fine
	rows.WriteString("grace@example.com,Grace,\n")                               // line 4: twice in the file
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&rows, "broken%d,Broken,\n", i) // lines 5-10: not emails
	}
	path := file("rows.csv", rows.String())
	out, errOut, code := usher(env, "import", "--dry-run", path)
	if code != 1 || strings.TrimSpace(out) != "dry run, nothing written: would create 1, update 0, invite 0, skip 0 (already have an account), fail 8, of 9 rows" {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	for _, w := range []string{
		"8 rows failed (INVALID_TYPE 1, DUPLICATED_USER 1, FORMAT 6):\n",
		"  line 2, app_metadata: INVALID_TYPE Expected type object but found type string (in CSV, the app_metadata cell must hold a JSON object in double quotes, its own quotes doubled: \"{\"\"team\"\":\"\"core\"\"}\")\n",
		"  line 4, email: DUPLICATED_USER The user already exists in this file (line 3)\n",
		"  line 5, email: FORMAT",
		"  … and 3 more\n",
		"Every failed row is listed with its line and reasons in " + path + ".errors.json\n",
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if strings.Contains(errOut, "line 8,") {
		t.Errorf("stderr shows more than five rows:\n%s", errOut)
	}
	// The real import says it in the past tense.
	if out, errOut, _ := usher(env, "import", path); !strings.HasPrefix(out, "created 1, updated 0, invited 0, skipped 0 (already have an account), failed 8, of 9 rows") {
		t.Fatalf("import: %s%s", out, errOut)
	}
	out, errOut, _ = usher(env, "import", file("again.json", `[{"email":"grace@example.com"}]`))
	if !strings.Contains(out, "created 0, updated 0, invited 0, skipped 1 (already have an account), failed 0, of 1 rows") {
		t.Fatalf("again: %s%s", out, errOut)
	}
}

package dashboard

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/identity"
)

// writtenLogTypes reads the source of the packages that write log events
// (identity, imports) for the types Usher writes: LogEvent{Type: "…"}
// literals and assignments of a string to a LogEvent variable's Type.
func writtenLogTypes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	found := map[string]bool{}
	isLogEvent := func(e ast.Expr) bool {
		switch e := e.(type) {
		case *ast.Ident:
			return e.Name == "LogEvent"
		case *ast.SelectorExpr:
			x, ok := e.X.(*ast.Ident)
			return ok && x.Name == "identity" && e.Sel.Name == "LogEvent"
		}
		return false
	}
	str := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	var files []string
	for _, pkg := range []string{"identity", "imports"} {
		dir := filepath.Join("..", pkg)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The variables declared as LogEvent values in this file.
		events := map[string]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if isLogEvent(n.Type) {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if key, ok := kv.Key.(*ast.Ident); ok && key.Name == "Type" {
								if s, ok := str(kv.Value); ok {
									found[s] = true
								}
							}
						}
					}
				}
			case *ast.AssignStmt:
				for i, rhs := range n.Rhs {
					if lit, ok := rhs.(*ast.CompositeLit); ok {
						if isLogEvent(lit.Type) && i < len(n.Lhs) {
							if v, ok := n.Lhs[i].(*ast.Ident); ok {
								events[v.Name] = true
							}
						}
					}
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			a, ok := n.(*ast.AssignStmt)
			if !ok || len(a.Lhs) != len(a.Rhs) {
				return true
			}
			for i, lhs := range a.Lhs {
				sel, ok := lhs.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Type" {
					continue
				}
				if v, ok := sel.X.(*ast.Ident); ok && events[v.Name] {
					if s, ok := str(a.Rhs[i]); ok {
						found[s] = true
					}
				}
			}
			return true
		})
	}
	var out []string
	for k := range found {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestEveryLogTypeHasWords: each event type Usher writes has a name and a
// meaning on the Logs page, and an event without a description still says
// what happened.
func TestEveryLogTypeHasWords(t *testing.T) {
	written := writtenLogTypes(t)
	// The scan must see the types it is meant to see.
	seen := map[string]bool{}
	for _, code := range written {
		seen[code] = true
	}
	for _, want := range []string{"s", "f", "fp", "fu", "scpr", "fcpr", "scp", "sui", "fui", "actions_console"} {
		if !seen[want] {
			t.Fatalf("the scan of internal/identity and internal/imports found %v, without %q", written, want)
		}
	}
	known := map[string]logType{}
	for _, lt := range logTypes {
		if lt.Name == "" || lt.Meaning == "" || lt.Name == lt.Code {
			t.Errorf("log type %q has no name or meaning: %+v", lt.Code, lt)
		}
		known[lt.Code] = lt
	}
	for _, code := range written {
		lt, ok := known[code]
		if !ok {
			t.Errorf("Usher writes log events of type %q, which the Logs page cannot name", code)
			continue
		}
		row := describeLog(identity.LogEvent{Type: code})
		if row.Name != lt.Name || row.What != lt.Meaning {
			t.Errorf("an event %q without a description shows as %q / %q", code, row.Name, row.What)
		}
		if row := describeLog(identity.LogEvent{Type: code, Description: "What happened, in the event's words."}); row.What != "What happened, in the event's words." {
			t.Errorf("an event %q shows %q, not its description", code, row.What)
		}
	}
	if row := describeLog(identity.LogEvent{Type: "zz"}); row.Name != "zz" || row.What == "" {
		t.Errorf("an unknown type shows as %q / %q", row.Name, row.What)
	}
}

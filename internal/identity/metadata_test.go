package identity

import (
	"math"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/errs"
)

func TestCheckMetadata(t *testing.T) {
	nest := func(depth int) map[string]any {
		var v any = true
		for i := 0; i < depth; i++ {
			v = map[string]any{"a": v}
		}
		return v.(map[string]any)
	}
	// What an Action can hand over: a value that contains itself, and one
	// that shares a big object 2^30 times.
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	shared := []any{strings.Repeat("x", 100)}
	for i := 0; i < 30; i++ {
		shared = []any{shared, shared}
	}
	for _, c := range []struct {
		name      string
		app, user map[string]any
		code      string // "" when allowed
	}{
		{"empty", nil, nil, ""},
		{"realistic", map[string]any{"needsInvitation": true, "roles": []any{"admin"}}, map[string]any{"lang": "en"}, ""},
		{"at the depth bound", nest(MaxMetadataDepth), nil, ""},
		{"past the depth bound", nil, nest(MaxMetadataDepth + 1), "MAX_DEPTH"},
		{"at the size bound", map[string]any{"a": strings.Repeat("x", MaxMetadataBytes-12)}, nil, ""},
		{"past the size bound together", map[string]any{"a": strings.Repeat("x", MaxMetadataBytes/2)}, map[string]any{"b": strings.Repeat("x", MaxMetadataBytes/2)}, "MAX_LENGTH"},
		{"escaping makes it larger", map[string]any{"a": strings.Repeat("<", MaxMetadataBytes/2)}, nil, "MAX_LENGTH"},
		{"reserved", map[string]any{"blocked": true}, nil, "OBJECT_ADDITIONAL_PROPERTIES"},
		{"reserved is app_metadata's only", nil, map[string]any{"blocked": true}, ""},
		{"dot in a nested name", nil, map[string]any{"a": []any{map[string]any{"b.c": 1}}}, "PATTERN"},
		{"NUL in a value", map[string]any{"a": "x\x00"}, nil, "PATTERN"},
		{"NUL in a name", nil, map[string]any{"a\x00": 1}, "PATTERN"},
		{"NaN", map[string]any{"n": math.NaN()}, nil, "INVALID_TYPE"},
		{"contains itself", cyclic, nil, "MAX_DEPTH"},
		{"shares one object 2^30 times", map[string]any{"s": shared}, nil, "MAX_LENGTH"},
	} {
		fe := MetadataProblem(c.app, c.user)
		switch {
		case c.code == "" && fe != nil:
			t.Errorf("%s: refused with %+v", c.name, fe)
		case c.code != "" && (fe == nil || fe.Code != c.code):
			t.Errorf("%s: %+v, want %s", c.name, fe, c.code)
		}
		if err := CheckMetadata(c.app, c.user); (err == nil) != (c.code == "") || err != nil && errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("%s: CheckMetadata %v", c.name, err)
		}
	}
}

package identity

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/usherid/usher/internal/errs"
)

// Bounds on user metadata. Auth0 documents a 10 KB limit on a serialized
// user profile, enforced with an allowance of about ten times that, so
// MaxMetadataBytes takes the allowance: what Auth0 stores, Usher stores.
// Auth0 documents no nesting limit; MaxMetadataDepth is Usher's own, far
// below the depth at which a database's JSON functions give up (SQLite's
// is 1,000) and deep enough for any real profile.
const (
	// MaxMetadataBytes bounds app_metadata and user_metadata together, as
	// the JSON text they are stored as.
	MaxMetadataBytes = 100 << 10
	// MaxMetadataDepth bounds how deep objects and arrays nest, counting
	// app_metadata or user_metadata itself as the first level.
	MaxMetadataDepth = 32
)

// CheckMetadata is the one gate metadata passes on its way to the
// database, whoever writes it (the Management API, sign-ups, invitations,
// imports, Actions): app and user are the objects as they will be stored.
// It refuses reserved app_metadata keys, names with "." or "$", the NUL
// character (PostgreSQL's JSON cannot hold it), nesting deeper than
// MaxMetadataDepth and more than MaxMetadataBytes.
func CheckMetadata(app, user map[string]any) error {
	if fe := MetadataProblem(app, user); fe != nil {
		return errs.Invalid("invalid_body", "Payload validation error: '%s' on property %s.", fe.Message, fe.Path)
	}
	return nil
}

// MetadataProblem is the first thing CheckMetadata refuses, as an import
// row error (code, message, path), or nil.
func MetadataProblem(app, user map[string]any) *FieldError {
	both := []struct {
		property string
		v        map[string]any
	}{{"app_metadata", app}, {"user_metadata", user}}
	var w metadataWalk
	for _, m := range both {
		for k := range m.v {
			if m.property == "app_metadata" && contains(forbiddenAppMetadata, k) {
				return &FieldError{Code: "OBJECT_ADDITIONAL_PROPERTIES", Message: k + " is a reserved property name", Path: m.property}
			}
		}
		if fe := w.value(m.property, m.v, 1); fe != nil {
			return fe
		}
	}
	size, largest, path := 0, -1, ""
	for _, m := range both {
		b, err := json.Marshal(m.v)
		if err != nil {
			// An Action can hand over what JSON cannot say (NaN, a function).
			return &FieldError{Code: "INVALID_TYPE", Message: "Metadata must be JSON: " + strings.TrimPrefix(err.Error(), "json: "), Path: m.property}
		}
		size += len(b)
		if len(b) > largest {
			largest, path = len(b), m.property
		}
	}
	if size > MaxMetadataBytes {
		return &FieldError{Code: "MAX_LENGTH", Message: fmt.Sprintf("app_metadata and user_metadata together are %d bytes of JSON; at most %d are allowed", size, MaxMetadataBytes), Path: path}
	}
	return nil
}

// metadataWalk goes through metadata values once, counting a lower bound
// of their JSON size as it goes, so that a value an Action built with many
// references to one big object is refused after MaxMetadataBytes steps
// rather than walked (or encoded) in full.
type metadataWalk struct {
	bytes int
}

var errMetadataTooDeep = fmt.Sprintf("Objects and arrays may nest at most %d levels deep", MaxMetadataDepth)

// value checks v, which sits at nesting level depth under path. The depth
// is checked before going down, so even a value that contains itself ends
// the walk.
func (w *metadataWalk) value(path string, v any, depth int) *FieldError {
	w.bytes++
	if w.bytes > MaxMetadataBytes {
		return &FieldError{Code: "MAX_LENGTH", Message: fmt.Sprintf("app_metadata and user_metadata together may hold at most %d bytes of JSON", MaxMetadataBytes), Path: topProperty(path)}
	}
	switch v := v.(type) {
	case map[string]any:
		if depth > MaxMetadataDepth {
			return &FieldError{Code: "MAX_DEPTH", Message: errMetadataTooDeep, Path: topProperty(path)}
		}
		for k, e := range v {
			if strings.ContainsAny(k, ".$") {
				return &FieldError{Code: "PATTERN", Message: fmt.Sprintf("Property names may not contain \".\" or \"$\": %s", k), Path: path}
			}
			if strings.ContainsRune(k, 0) {
				return &FieldError{Code: "PATTERN", Message: "Property names may not contain the NUL character (\\u0000)", Path: path}
			}
			w.bytes += len(k)
			if fe := w.value(path+"."+k, e, depth+1); fe != nil {
				return fe
			}
		}
	case []any:
		if depth > MaxMetadataDepth {
			return &FieldError{Code: "MAX_DEPTH", Message: errMetadataTooDeep, Path: topProperty(path)}
		}
		for _, e := range v {
			if fe := w.value(path, e, depth+1); fe != nil {
				return fe
			}
		}
	case string:
		if strings.ContainsRune(v, 0) {
			return &FieldError{Code: "PATTERN", Message: "Strings may not contain the NUL character (\\u0000)", Path: path}
		}
		w.bytes += len(v)
	}
	return nil
}

// topProperty is app_metadata or user_metadata, whichever path is under.
func topProperty(path string) string {
	top, _, _ := strings.Cut(path, ".")
	return top
}

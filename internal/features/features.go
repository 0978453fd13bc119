// Package features describes, in the shape of Auth0's settings documents,
// the tenant-wide features Usher either fixes or does not offer: attack
// protection, multi-factor authentication, risk assessment, prompt settings
// and partials. Each document reads as Usher behaves (a feature Usher does
// not have reads as switched off), so that tools which copy a tenant's
// settings, such as Auth0's Deploy CLI, find what they expect. A write that
// repeats the document changes nothing and is accepted; a write that would
// change it is refused with a sentence naming the feature, because Usher
// would not honour it.
package features

import (
	"encoding/json"
	"fmt"

	"github.com/usherid/usher/internal/errs"
)

// Setting is one settings document: what a GET answers, and the only thing a
// PUT or PATCH may write.
type Setting struct {
	// feature names the feature in refusals ("Breached password detection").
	feature string
	// doc is the document in its JSON shape (maps, slices, strings,
	// float64, bools), or nil when Usher has no such settings at all.
	doc any
	// why says, in a refusal, what Usher does instead.
	why string
}

// fixed returns a setting whose document is doc, which is read through
// JSON once so that comparisons see the shape a caller's body has.
func fixed(feature, why string, doc any) Setting {
	return Setting{feature: feature, doc: jsonShape(doc), why: why}
}

// absent returns a setting of a feature Usher does not have at all: it
// cannot be read or written. Auth0 answers the same way (403) on plans
// without the feature.
func absent(feature, why string) Setting {
	return Setting{feature: feature, why: why}
}

// Get returns the document, a copy the caller may change.
func (s Setting) Get() (any, error) {
	if s.doc == nil {
		return nil, s.refusal()
	}
	return jsonShape(s.doc), nil
}

// Put takes a whole document: accepted, and answered with the document,
// when it is the one Usher has.
func (s Setting) Put(body any) (any, error) {
	if s.doc == nil || !Same(s.doc, body) {
		return nil, s.refusal()
	}
	return s.Get()
}

// Patch takes some of a document's top-level properties: accepted when each
// one holds the value Usher has.
func (s Setting) Patch(body any) (any, error) {
	if s.doc == nil {
		return nil, s.refusal()
	}
	fields, ok := body.(map[string]any)
	cur, isObject := s.doc.(map[string]any)
	if !ok || !isObject {
		return nil, errs.Invalid("invalid_body", "Payload validation error: 'Expected type object' on the request body.")
	}
	for k, v := range fields {
		if !Same(cur[k], v) {
			return nil, s.refusal()
		}
	}
	return s.Get()
}

// refusal is the 403 a change of the setting gets.
func (s Setting) refusal() error {
	return NotOffered(s.feature, s.why)
}

// NotOffered is the error for a write Usher cannot honour: feature is named,
// and why says what Usher does instead.
func NotOffered(feature, why string) error {
	msg := feature + ": not available in Usher"
	if why != "" {
		msg += "; " + why
	}
	return errs.Denied("feature_not_enabled", msg+".")
}

// Same reports whether two JSON values are the same document: equal
// numbers, strings and booleans, arrays equal in order, and objects equal
// property by property, where a property set to null and one left out are
// the same.
func Same(a, b any) bool {
	return same(jsonShape(a), jsonShape(b))
}

func same(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range x {
			if !same(v, y[k]) {
				return false
			}
		}
		for k, v := range y {
			if _, seen := x[k]; !seen && v != nil {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !same(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// jsonShape returns a copy of v as encoding/json decodes it into an any:
// what a request body looks like once read.
func jsonShape(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("features: a document that is not JSON: %v", err))
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		panic(fmt.Sprintf("features: a document that is not JSON: %v", err))
	}
	return out
}

package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/usherid/usher/internal/errs"
)

// Decode reads one JSON value from data into v the way Auth0 validates
// payloads: unknown properties and wrong types are refused with Auth0's
// "Payload validation error" sentences, and trailing data is an error.
// No string may hold the NUL character: PostgreSQL can store it neither in
// text nor in JSON, and no identity data needs it.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return payloadError(err)
	}
	// Anything after the value, even a stray "]" or "}", is an error.
	if _, err := dec.Token(); err != io.EOF {
		return errs.Invalid("invalid_body", "Invalid request payload JSON format")
	}
	if HasNUL(data) {
		return errNUL
	}
	return nil
}

var errNUL = errs.Invalid("invalid_body", "Payload validation error: 'Strings may not contain the NUL character (\\u0000)'.")

// HasNUL reports whether valid JSON text holds a \u0000 escape in a string
// (a raw NUL byte is not valid JSON, so the escape is the only way in).
func HasNUL(data []byte) bool {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		// Skip the escaped character, so "\\u0000" (a backslash, then
		// text) is not taken for the escape.
		i++
		if i < len(data) && data[i] == 'u' && i+4 < len(data) && string(data[i+1:i+5]) == "0000" {
			return true
		}
	}
	return false
}

// maxEcho bounds how much of a caller's text an error message repeats.
const maxEcho = 100

// Clip shortens a caller's text that an error message repeats to at most
// maxEcho bytes, without cutting a character.
func Clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	r := []rune(s[:maxEcho])
	return string(r[:len(r)-1]) + "…"
}

func payloadError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		// Go names a number with its text ("number 1e400"); Auth0 names
		// only the type, and a number too big for its property says so.
		found, literal, _ := strings.Cut(typeErr.Value, " ")
		want := jsonKind(typeErr.Type)
		msg := fmt.Sprintf("Expected type %s but found type %s", want, found)
		if found == "number" && literal != "" && (want == "number" || want == "integer") {
			msg = fmt.Sprintf("Number %s is out of range or not of type %s", Clip(literal), want)
		}
		if typeErr.Field == "" {
			return errs.Invalid("invalid_body", "Payload validation error: '%s'.", msg)
		}
		return errs.Invalid("invalid_body", "Payload validation error: '%s' on property %s.", msg, Clip(typeErr.Field))
	case errors.As(err, &syntaxErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.Invalid("invalid_body", "Invalid request payload JSON format")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.Invalid("invalid_body", "Payload validation error: 'Additional properties not allowed: %s'.", Clip(name))
	}
	var de *errs.Error
	if errors.As(err, &de) {
		return err
	}
	return errs.Invalid("invalid_body", "Invalid request payload JSON format")
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return t.String()
}

// Opt is one property of a partial update: whether it was sent, whether it
// was null, and its value.
type Opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

// UnmarshalJSON records presence and nullness before decoding the value.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// Patch is a JSON object of top-level properties to replace; a null value
// resets the property.
type Patch map[string]json.RawMessage

// apply replaces the top-level JSON properties of *dst named in p and decodes
// the result strictly. Properties named in readonly, and unknown ones, are refused.
func (p Patch) apply(dst any, readonly ...string) error {
	known := jsonNames(reflect.TypeOf(dst).Elem())
	for k := range p {
		if !known[k] || contains(readonly, k) {
			return errs.Invalid("invalid_body", "Payload validation error: 'Additional properties not allowed: %s'.", k)
		}
	}
	cur, err := json.Marshal(dst)
	if err != nil {
		return fmt.Errorf("patch: %w", err)
	}
	merged := map[string]json.RawMessage{}
	if err := json.Unmarshal(cur, &merged); err != nil {
		return fmt.Errorf("patch: %w", err)
	}
	for k, v := range p {
		if string(v) == "null" {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return fmt.Errorf("patch: %w", err)
	}
	fresh := reflect.New(reflect.TypeOf(dst).Elem())
	if err := Decode(out, fresh.Interface()); err != nil {
		return err
	}
	reflect.ValueOf(dst).Elem().Set(fresh.Elem())
	return nil
}

func jsonNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name != "" && name != "-" {
			names[name] = true
		}
	}
	return names
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

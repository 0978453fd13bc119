package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Decode reads one JSON value from data into v the way Auth0 validates
// payloads: unknown properties and wrong types are refused with Auth0's
// "Payload validation error" sentences, and trailing data is an error.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return payloadError(err)
	}
	if dec.More() {
		return Invalid("invalid_body", "Invalid request payload JSON format")
	}
	return nil
}

func payloadError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return Invalid("invalid_body", "Payload validation error: 'Expected type %s but found type %s'.", jsonKind(typeErr.Type), typeErr.Value)
		}
		return Invalid("invalid_body", "Payload validation error: 'Expected type %s but found type %s' on property %s.", jsonKind(typeErr.Type), typeErr.Value, typeErr.Field)
	case errors.As(err, &syntaxErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("invalid_body", "Invalid request payload JSON format")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid("invalid_body", "Payload validation error: 'Additional properties not allowed: %s'.", name)
	}
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	return Invalid("invalid_body", "Invalid request payload JSON format")
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
			return Invalid("invalid_body", "Payload validation error: 'Additional properties not allowed: %s'.", k)
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

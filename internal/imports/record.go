package imports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/usherid/usher/internal/identity"
)

// record is one user of Auth0's bulk-import format.
type record struct {
	Email              string              `json:"email"`
	EmailVerified      bool                `json:"email_verified"`
	PhoneNumber        string              `json:"phone_number"`
	PhoneVerified      bool                `json:"phone_verified"`
	UserID             string              `json:"user_id"`
	Username           string              `json:"username"`
	GivenName          string              `json:"given_name"`
	FamilyName         string              `json:"family_name"`
	Name               string              `json:"name"`
	Nickname           string              `json:"nickname"`
	Picture            string              `json:"picture"`
	Blocked            bool                `json:"blocked"`
	AppMetadata        map[string]any      `json:"app_metadata"`
	UserMetadata       map[string]any      `json:"user_metadata"`
	PasswordHash       string              `json:"password_hash"`
	CustomPasswordHash *customPasswordHash `json:"custom_password_hash"`
}

// customPasswordHash is Auth0's custom_password_hash; Usher takes bcrypt.
type customPasswordHash struct {
	Algorithm string `json:"algorithm"`
	Hash      struct {
		Value    string `json:"value"`
		Encoding string `json:"encoding"`
	} `json:"hash"`
}

// recordFields maps the JSON name of each field of a record to the JSON
// type it holds, as Auth0's validation messages name types.
var recordFields = func() map[string]string {
	t := reflect.TypeOf(record{})
	fields := make(map[string]string, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch f.Type.Kind() {
		case reflect.Bool:
			fields[name] = "boolean"
		case reflect.String:
			fields[name] = "string"
		default: // the metadata maps and custom_password_hash
			fields[name] = "object"
		}
	}
	return fields
}()

// decodeRecord reads a row into a record, or says everything wrong with it
// the way Auth0's schema validation does: code, message and path.
func decodeRecord(raw json.RawMessage) (record, []identity.FieldError) {
	var rec record
	if identity.HasNUL(raw) {
		return rec, []identity.FieldError{{Code: "PATTERN", Message: "Strings may not contain the NUL character (\\u0000)"}}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err == nil {
		return rec, rec.check()
	}
	// The slow path, only for broken rows: find every bad field.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return rec, []identity.FieldError{{Code: "INVALID_TYPE", Message: "Expected type object but found type " + jsonType(raw)}}
	}
	var errs []identity.FieldError
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		kind, known := recordFields[k]
		if !known {
			errs = append(errs, identity.FieldError{Code: "OBJECT_ADDITIONAL_PROPERTIES", Message: "Additional properties not allowed: " + k, Path: k})
			continue
		}
		one, _ := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		if err := json.Unmarshal(one, &rec); err != nil {
			errs = append(errs, identity.FieldError{Code: "INVALID_TYPE", Message: fmt.Sprintf("Expected type %s but found type %s", kind, jsonType(fields[k])), Path: k})
		}
	}
	return rec, append(errs, rec.check()...)
}

// check applies the rules a well-typed record can still break.
func (r record) check() []identity.FieldError {
	var errs []identity.FieldError
	if r.Email == "" {
		errs = append(errs, identity.FieldError{Code: "OBJECT_REQUIRED", Message: "Missing required property: email", Path: "email"})
	} else if _, err := identity.NormalizeEmail(r.Email); err != nil {
		errs = append(errs, identity.FieldError{Code: "FORMAT", Message: "Object didn't pass validation for format email: " + r.Email, Path: "email"})
	}
	if r.PasswordHash != "" && r.CustomPasswordHash != nil {
		errs = append(errs, identity.FieldError{Code: "CONFLICT", Message: "password_hash and custom_password_hash cannot both be given", Path: "custom_password_hash"})
	}
	if r.PasswordHash != "" {
		if fe := identity.CheckImportedHash(r.PasswordHash, "password_hash"); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if c := r.CustomPasswordHash; c != nil {
		switch {
		case c.Algorithm != "bcrypt":
			errs = append(errs, identity.FieldError{Code: "ENUM_MISMATCH", Message: fmt.Sprintf("custom_password_hash.algorithm %q is not supported; Usher imports bcrypt hashes", identity.Clip(c.Algorithm)), Path: "custom_password_hash.algorithm"})
		case c.Hash.Encoding != "" && c.Hash.Encoding != "utf8":
			errs = append(errs, identity.FieldError{Code: "PATTERN", Message: "custom_password_hash.hash.value must be a bcrypt hash in utf8", Path: "custom_password_hash.hash.value"})
		default:
			if fe := identity.CheckImportedHash(c.Hash.Value, "custom_password_hash.hash.value"); fe != nil {
				errs = append(errs, *fe)
			}
		}
	}
	if fe := identity.MetadataProblem(r.AppMetadata, r.UserMetadata); fe != nil {
		errs = append(errs, *fe)
	}
	return errs
}

// passwordHash is the record's hash, whichever field carried it.
func (r record) passwordHash() string {
	if r.CustomPasswordHash != nil {
		return r.CustomPasswordHash.Hash.Value
	}
	return r.PasswordHash
}

// newUser is the record as a user to create in connection.
func (r record) newUser(connection string) identity.NewUser {
	return identity.NewUser{Connection: connection, Email: r.Email, EmailVerified: r.EmailVerified, Username: r.Username,
		PhoneNumber: r.PhoneNumber, PhoneVerified: r.PhoneVerified, UserID: r.UserID, Blocked: r.Blocked,
		GivenName: r.GivenName, FamilyName: r.FamilyName, Name: r.Name, Nickname: r.Nickname, Picture: r.Picture,
		AppMetadata: r.AppMetadata, UserMetadata: r.UserMetadata}
}

// jsonType names the JSON type of a value as Auth0's validation messages do.
func jsonType(raw json.RawMessage) string {
	switch b := bytes.TrimSpace(raw); {
	case len(b) == 0:
		return "nothing"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == '"':
		return "string"
	case b[0] == 't' || b[0] == 'f':
		return "boolean"
	case b[0] == 'n':
		return "null"
	}
	return "number"
}

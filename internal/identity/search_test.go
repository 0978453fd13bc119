package identity

import (
	"reflect"
	"testing"
)

func TestParseUserSearch(t *testing.T) {
	for _, tc := range []struct {
		q     string
		terms []Term
		bad   bool
	}{
		{q: ""},
		{q: `email:"Ada@Example.com"`, terms: []Term{{Field: "email", Value: "Ada@Example.com"}}},
		{q: `email:ada*`, terms: []Term{{Field: "email", Value: "ada", Prefix: true}}},
		{q: `app_metadata.needsInvitation:true AND email_verified:false`, terms: []Term{
			{Field: "app_metadata.needsInvitation", Value: "true", JSON: "true"},
			{Field: "email_verified", Value: "false"}}},
		{q: `user_metadata.plan:"pro team"`, terms: []Term{{Field: "user_metadata.plan", Value: "pro team", JSON: `"pro team"`}}},
		{q: `app_metadata.level:3`, terms: []Term{{Field: "app_metadata.level", Value: "3", JSON: "3"}}},
		{q: `app_metadata.level:"3"`, terms: []Term{{Field: "app_metadata.level", Value: "3", JSON: `"3"`}}},
		{q: `email:a OR email:b`, bad: true},
		{q: `password_hash:x`, bad: true},
		{q: `email:"unterminated`, bad: true},
		{q: `blocked:maybe`, bad: true},
		{q: `app_metadata.x:y*`, bad: true},
		{q: `justaword`, bad: true},
	} {
		f, err := ParseUserSearch(tc.q)
		if tc.bad {
			if KindOf(err) != KindInvalid {
				t.Errorf("%q: got %v, want an invalid query", tc.q, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(f.Terms, tc.terms) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.q, f.Terms, err, tc.terms)
		}
	}
}

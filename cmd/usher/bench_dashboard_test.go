package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/store"
)

// BenchmarkDashboardUsers measures the people page of the dashboard over
// 100,000 users on SQLite: the first page (newest first, with the total),
// a search by the beginning of an email, and an exact email.
//
//	go test ./cmd/usher -run '^$' -bench DashboardUsers -benchtime 200x
func BenchmarkDashboardUsers(b *testing.B) {
	const users = 100_000
	dsn := sqliteDSN(b)
	s := startServer(b, dsn, nil)
	fillUsers(b, dsn, users)

	tok := s.token(b)
	var admin user
	if st := s.call(b, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "bench-admin@example.com",
		"password": adminPassword, "verify_email": false}, &admin); st != 201 {
		b.Fatalf("create admin: %d", st)
	}
	grant := map[string]any{"permissions": []map[string]string{{"resource_server_identifier": s.URL + "/api/v2/", "permission_name": "usher:admin"}}}
	if st := s.call(b, "POST", "/api/v2/users/"+url.PathEscape(admin.UserID)+"/permissions", tok, grant, nil); st != 201 {
		b.Fatalf("grant: %d", st)
	}
	u := signIn(b, s, "bench-admin@example.com", adminPassword)

	for _, bc := range []struct{ name, path, want string }{
		{"FirstPage", "/dashboard/users", fmt.Sprintf("of %d", users+1)},
		{"SearchPrefix", "/dashboard/users?q=person4711", "person4711@example.com"},
		{"SearchEmail", "/dashboard/users?q=person99999@example.com", "person99999@example.com"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if st, page := u.get(bc.path); st != 200 || !strings.Contains(page, bc.want) {
				b.Fatalf("%s: %d, want %q", bc.path, st, bc.want)
			}
			start := time.Now()
			for b.Loop() {
				if st, _ := u.get(bc.path); st != 200 {
					b.Fatalf("%s: %d", bc.path, st)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}

// fillUsers writes n users straight to the database, a thousand a transaction.
func fillUsers(b *testing.B, dsn string, n int) {
	b.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	conn, err := db.ConnectionByName(ctx, dbConn)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now().Add(-time.Duration(n) * time.Second)
	for start := 0; start < n; start += 1000 {
		err := db.Atomic(ctx, func(st identity.Store) error {
			for i := start; i < min(start+1000, n); i++ {
				email := fmt.Sprintf("person%d@example.com", i)
				at := t0.Add(time.Duration(i) * time.Second)
				if err := st.CreateUser(ctx, identity.User{ID: identity.NewUserID(), ConnectionID: conn.ID, Connection: conn.Name,
					Email: email, Profile: identity.Profile{Name: email, Nickname: fmt.Sprintf("person%d", i)},
					AppMetadata: map[string]any{"plan": "free"}, UserMetadata: map[string]any{}, CreatedAt: at, UpdatedAt: at}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// Package storetest is one behavioural test suite for store.DB that runs
// unchanged on every engine the store supports. It goes through the public
// surface only: identity.Store, imports.Store (inside a transaction,
// imports.Tx), the signing-key methods, Migrate, Migrated and Ping.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/store"
)

// Run runs the suite; open must return a new, empty, unmigrated database and arrange its own cleanup.
func Run(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		test func(t *testing.T, f *fixture)
	}{
		{"Migrate", testMigrate},
		{"UserRoundTrip", testUserRoundTrip},
		{"UserUpdateRoundTrip", testUserUpdateRoundTrip},
		{"UserDelete", testUserDelete},
		{"NotFound", testNotFound},
		{"Uniqueness", testUniqueness},
		{"UsersSort", testUsersSort},
		{"UsersPaging", testUsersPaging},
		{"UsersSearch", testUsersSearch},
		{"UsersByEmail", testUsersByEmail},
		{"DeleteConnectionDeletesUsers", testDeleteConnectionCascade},
		{"DeleteClientDeletesGrants", testDeleteClientCascade},
		{"Connections", testConnections},
		{"Clients", testClients},
		{"ClientGrants", testClientGrants},
		{"Settings", testSettings},
		{"TenantSettings", testTenantSettings},
		{"SigningKeys", testSigningKeys},
		{"Atomic", testAtomic},
		{"AtomicStoreError", testAtomicStoreError},
		{"AtomicSeesOwnWrites", testAtomicSeesOwnWrites},
		{"AtomicPanic", testAtomicPanic},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ConcurrentAtomicFailures", testConcurrentAtomicFailures},
		{"ConcurrentDuplicateEmail", testConcurrentDuplicateEmail},
		{"Outbox", testOutbox},
		{"Tickets", testTickets},
		{"TicketUsedOnce", testTicketUsedOnce},
		{"Logs", testLogs},
		{"Actions", testActions},
		{"Jobs", testJobs},
		{"ClaimJob", testClaimJob},
		{"JobLeaseFencing", testJobLeaseFencing},
		{"JobList", testJobList},
		{"InsertBulk", testInsertBulk},
		{"UsersByEmails", testUsersByEmails},
		{"Permissions", testPermissions},
		{"InvitationStats", testInvitationStats},
		{"InvitationsByPerson", testInvitationsByPerson},
		{"RevokeLogins", testRevokeLogins},
		{"RotateGrant", testRotateGrant},
		{"ConcurrentReadModifyWrite", testConcurrentReadModifyWrite},
		{"OutboxClaimFencing", testOutboxClaimFencing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.test(t, newFixture(t, open))
		})
	}
}

// fixture is one subtest's migrated database and the helpers that fill it.
type fixture struct {
	t    *testing.T
	ctx  context.Context
	open func(t *testing.T) *store.DB
	db   *store.DB
}

// newFixture opens and migrates a database for one subtest. Its context
// ends after a while, so that a store that deadlocks fails instead of hanging.
func newFixture(t *testing.T, open func(t *testing.T) *store.DB) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	f := &fixture{t: t, ctx: ctx, open: open, db: open(t)}
	if err := f.db.Migrate(f.ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return f
}

// t0 is the suite's epoch; at(n) is n milliseconds after it.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// ms is t as the store keeps it: whole milliseconds, in UTC.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func newConnection(name string, created time.Time) identity.Connection {
	return identity.Connection{
		ID: identity.NewConnectionID(), Name: name, Strategy: "auth0", Options: identity.DefaultConnectionOptions(),
		EnabledClients: []string{}, Realms: []string{name}, CreatedAt: created,
	}
}

// conn stores a new connection.
func (f *fixture) conn(name string, created time.Time) identity.Connection {
	f.t.Helper()
	c := newConnection(name, created)
	if err := f.db.CreateConnection(f.ctx, c); err != nil {
		f.t.Fatalf("CreateConnection %s: %v", name, err)
	}
	return c
}

// newUser is a user of c the way the service makes one, not yet stored.
func newUser(c identity.Connection, email string, created time.Time) identity.User {
	local, _, _ := strings.Cut(email, "@")
	return identity.User{
		ID: identity.NewUserID(), ConnectionID: c.ID, Connection: c.Name, Email: email,
		Profile:     identity.Profile{Name: email, Nickname: local},
		AppMetadata: map[string]any{}, UserMetadata: map[string]any{},
		CreatedAt: created, UpdatedAt: created,
	}
}

// user stores a new user of c, changed by edit when it is not nil.
func (f *fixture) user(c identity.Connection, email string, created time.Time, edit func(*identity.User)) identity.User {
	f.t.Helper()
	u := newUser(c, email, created)
	if edit != nil {
		edit(&u)
	}
	if err := f.db.CreateUser(f.ctx, u); err != nil {
		f.t.Fatalf("CreateUser %s: %v", email, err)
	}
	return u
}

func newClient(id string, created time.Time) identity.Client {
	return identity.Client{
		ClientID: id, Name: "App " + id, Callbacks: []string{}, AllowedLogoutURLs: []string{}, WebOrigins: []string{},
		AllowedOrigins: []string{}, GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_post",
		JWTConfiguration: identity.JWTConfiguration{Alg: "RS256", LifetimeInSeconds: 36000},
		ClientMetadata:   map[string]string{}, SecretHash: "hash-" + id, CreatedAt: created,
	}
}

// client stores a new client.
func (f *fixture) client(id string, created time.Time) identity.Client {
	f.t.Helper()
	c := newClient(id, created)
	if err := f.db.CreateClient(f.ctx, c); err != nil {
		f.t.Fatalf("CreateClient %s: %v", id, err)
	}
	return c
}

// grant stores a new client grant.
func (f *fixture) grant(clientID, audience string, created time.Time) identity.ClientGrant {
	f.t.Helper()
	g := identity.ClientGrant{ID: identity.NewGrantID(), ClientID: clientID, Audience: audience, Scope: []string{"read:things"}, CreatedAt: created}
	if err := f.db.CreateClientGrant(f.ctx, g); err != nil {
		f.t.Fatalf("CreateClientGrant %s %s: %v", clientID, audience, err)
	}
	return g
}

// wantUser checks that got is want as the store should give it back.
func wantUser(t *testing.T, got identity.User, want identity.User) {
	t.Helper()
	want.LastLogin, want.LastPasswordReset = ms(want.LastLogin), ms(want.LastPasswordReset)
	want.CreatedAt, want.UpdatedAt = ms(want.CreatedAt), ms(want.UpdatedAt)
	if d := diff(got, want); d != "" {
		t.Errorf("user %s differs:\n%s", want.ID, d)
	}
}

// diff names the top-level fields in which two structs of one type differ.
func diff(got, want any) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	var out []string
	for i := range gv.NumField() {
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(g, w) {
			out = append(out, fmt.Sprintf("  %s: got %s, want %s", gv.Type().Field(i).Name, show(g), show(w)))
		}
	}
	return strings.Join(out, "\n")
}

func show(v any) string {
	if t, ok := v.(time.Time); ok {
		return fmt.Sprintf("%s (%s)", t.Format(time.RFC3339Nano), t.Location())
	}
	return fmt.Sprintf("%#v", v)
}

func ids(users []identity.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func emails(users []identity.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.Email
	}
	return out
}

func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

func testMigrate(t *testing.T, f *fixture) {
	db := f.open(t)
	// A new database is not reported migrated (it may report an error instead;
	// the short deadline cuts goose's retries on SQLite's read-only readers).
	ctx, cancel := context.WithTimeout(f.ctx, 500*time.Millisecond)
	if ok, err := db.Migrated(ctx); ok {
		t.Errorf("Migrated before Migrate = true, %v; want false", err)
	}
	cancel()
	if err := db.Migrate(f.ctx); err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if ok, err := db.Migrated(f.ctx); err != nil || !ok {
		t.Fatalf("Migrated after Migrate = %v, %v; want true, nil", ok, err)
	}
	c := newConnection("before-second-migrate", at(0))
	if err := db.CreateConnection(f.ctx, c); err != nil {
		t.Fatalf("CreateConnection: %v", err)
	}
	if err := db.Migrate(f.ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if ok, err := db.Migrated(f.ctx); err != nil || !ok {
		t.Errorf("Migrated after second Migrate = %v, %v; want true, nil", ok, err)
	}
	if _, err := db.Connection(f.ctx, c.ID); err != nil {
		t.Errorf("a second Migrate lost data: Connection: %v", err)
	}
	if err := db.Ping(f.ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// fullUser sets every attribute of a user, with times finer than a millisecond
// and not in UTC, metadata of every JSON type, and a login count past 32 bits.
func fullUser(c identity.Connection) identity.User {
	zone := time.FixedZone("UTC+5", 5*3600)
	return identity.User{
		ID: identity.NewUserID(), ConnectionID: c.ID, Connection: c.Name, Email: "zoe@example.com", EmailVerified: true,
		Username: "zoe_1", PhoneNumber: "+15551234567", PhoneVerified: true, PasswordHash: "$2a$10$abcdefghijklmnopqrstuv",
		Blocked: true,
		Profile: identity.Profile{Name: "Zoë O'Brien", Nickname: "zoe", GivenName: "Zoë", FamilyName: "O'Brien",
			Picture: "https://example.com/zoe.png?s=480&d=x"},
		AppMetadata: map[string]any{"plan": "pro", "seats": float64(5), "ratio": 0.25, "active": true,
			"roles": []any{"admin", float64(2), false}, "nested": map[string]any{"k": "v", "none": nil}, "dept": "R&D <ops>"},
		UserMetadata:      map[string]any{"theme": "dark", "city": "Zürich", "empty": map[string]any{}},
		LoginsCount:       1 << 40,
		LastLogin:         time.Date(2024, 2, 3, 4, 5, 6, 789_654_321, zone),
		LastIP:            "2001:db8::1",
		LastPasswordReset: time.Date(2023, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		CreatedAt:         time.Date(2023, 1, 2, 3, 4, 5, 6_999_999, time.UTC),
		UpdatedAt:         time.Date(2024, 2, 3, 4, 5, 6, 1_000_001, zone),
	}
}

func testUserRoundTrip(t *testing.T, f *fixture) {
	c := f.conn("main-db", at(0))
	tests := []struct {
		name string
		user identity.User
	}{
		{"every field set", fullUser(c)},
		{"optional fields empty", newUser(c, "min@example.com", at(1).Add(456*time.Microsecond))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.db.CreateUser(f.ctx, tc.user); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			got, err := f.db.User(f.ctx, tc.user.ID)
			if err != nil {
				t.Fatalf("User: %v", err)
			}
			wantUser(t, got, tc.user)
		})
	}
	// Absent metadata comes back empty.
	bare := newUser(c, "nil@example.com", at(2))
	bare.AppMetadata, bare.UserMetadata = nil, nil
	if err := f.db.CreateUser(f.ctx, bare); err != nil {
		t.Fatalf("CreateUser without metadata: %v", err)
	}
	got, err := f.db.User(f.ctx, bare.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	if len(got.AppMetadata) != 0 || len(got.UserMetadata) != 0 {
		t.Errorf("metadata of a user stored without any = %v, %v; want empty", got.AppMetadata, got.UserMetadata)
	}
	got.AppMetadata, got.UserMetadata = nil, nil
	wantUser(t, got, bare)

	// The store names the user's connection itself, whatever the caller passed.
	u := newUser(c, "named@example.com", at(3))
	u.Connection = ""
	if err := f.db.CreateUser(f.ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if got, err := f.db.User(f.ctx, u.ID); err != nil || got.Connection != c.Name {
		t.Errorf("User(%s).Connection = %q, %v; want %q", u.ID, got.Connection, err, c.Name)
	}
}

func testUserUpdateRoundTrip(t *testing.T, f *fixture) {
	a, b := f.conn("first-db", at(0)), f.conn("second-db", at(1))
	full := fullUser(a)
	if err := f.db.CreateUser(f.ctx, full); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	plain := f.user(a, "plain@example.com", at(5), nil)
	other := f.user(a, "other@example.com", at(6), nil)

	// Every attribute changes; the set nullable ones are cleared and the
	// clear ones set; the user moves to another connection.
	changed := identity.User{
		ID: full.ID, ConnectionID: b.ID, Connection: b.Name, Email: "zoe.new@example.com", EmailVerified: false,
		Username: "", PhoneNumber: "", PhoneVerified: false, PasswordHash: "", Blocked: false,
		Profile:     identity.Profile{Name: "Zoe", Nickname: "z"},
		AppMetadata: map[string]any{}, UserMetadata: map[string]any{"theme": "light"},
		LoginsCount: 0, LastLogin: time.Time{}, LastIP: "", LastPasswordReset: at(77).Add(999 * time.Microsecond),
		CreatedAt: full.CreatedAt, UpdatedAt: at(100).Add(123456 * time.Nanosecond),
	}
	// A user with no username gets one, and a first login.
	named := plain
	named.Username, named.LastLogin, named.LoginsCount, named.LastIP = "plainuser", at(50), 1, "192.0.2.7"
	named.AppMetadata = map[string]any{"plan": "free"}
	named.UpdatedAt = at(50)

	for _, u := range []identity.User{changed, named} {
		if err := f.db.UpdateUser(f.ctx, u); err != nil {
			t.Fatalf("UpdateUser %s: %v", u.Email, err)
		}
		got, err := f.db.User(f.ctx, u.ID)
		if err != nil {
			t.Fatalf("User: %v", err)
		}
		wantUser(t, got, u)
	}
	// An update touches only its own user.
	got, err := f.db.User(f.ctx, other.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	wantUser(t, got, other)
}

func testUserDelete(t *testing.T, f *fixture) {
	c := f.conn("main-db", at(0))
	gone, kept := f.user(c, "gone@example.com", at(1), nil), f.user(c, "kept@example.com", at(2), nil)
	if err := f.db.DeleteUser(f.ctx, gone.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := f.db.User(f.ctx, gone.ID)
	wantIs(t, "User after DeleteUser", err, errs.ErrNotFound)
	wantIs(t, "second DeleteUser", f.db.DeleteUser(f.ctx, gone.ID), errs.ErrNotFound)
	if _, err := f.db.User(f.ctx, kept.ID); err != nil {
		t.Errorf("DeleteUser removed another user: %v", err)
	}
	// The email is free again.
	if err := f.db.CreateUser(f.ctx, newUser(c, gone.Email, at(3))); err != nil {
		t.Errorf("CreateUser with a deleted user's email: %v", err)
	}
}

func testNotFound(t *testing.T, f *fixture) {
	c := f.conn("main-db", at(0))
	cl := f.client("client-1", at(1))
	ghost := newUser(c, "ghost@example.com", at(2))
	ghostConn := newConnection("ghost-db", at(3))
	ghostClient := newClient("client-ghost", at(4))
	ghostGrant := identity.ClientGrant{ID: identity.NewGrantID(), ClientID: cl.ClientID, Audience: "https://api", Scope: []string{}}
	ctx, db := f.ctx, f.db
	tests := []struct {
		name string
		call func() error
	}{
		{"User", func() error { _, err := db.User(ctx, ghost.ID); return err }},
		{"UpdateUser", func() error { return db.UpdateUser(ctx, ghost) }},
		{"DeleteUser", func() error { return db.DeleteUser(ctx, ghost.ID) }},
		{"Connection", func() error { _, err := db.Connection(ctx, ghostConn.ID); return err }},
		{"ConnectionByName", func() error { _, err := db.ConnectionByName(ctx, ghostConn.Name); return err }},
		{"UpdateConnection", func() error { return db.UpdateConnection(ctx, ghostConn) }},
		{"DeleteConnection", func() error { return db.DeleteConnection(ctx, ghostConn.ID) }},
		{"Client", func() error { _, err := db.Client(ctx, ghostClient.ClientID); return err }},
		{"UpdateClient", func() error { return db.UpdateClient(ctx, ghostClient) }},
		{"DeleteClient", func() error { return db.DeleteClient(ctx, ghostClient.ClientID) }},
		{"ClientGrant", func() error { _, err := db.ClientGrant(ctx, ghostGrant.ID); return err }},
		{"UpdateClientGrant", func() error { return db.UpdateClientGrant(ctx, ghostGrant) }},
		{"DeleteClientGrant", func() error { return db.DeleteClientGrant(ctx, ghostGrant.ID) }},
		{"Setting", func() error { _, err := db.Setting(ctx, "no-such-setting"); return err }},
		{"TenantSettings", func() error { _, err := db.TenantSettings(ctx); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantIs(t, tc.name, tc.call(), errs.ErrNotFound)
		})
	}
	// None of those calls made anything.
	if users, total, err := db.Users(ctx, identity.UserQuery{PerPage: 10, IncludeTotals: true}); err != nil || total != 0 {
		t.Errorf("Users after failed calls = %v, %d, %v; want none", ids(users), total, err)
	}
}

func testUniqueness(t *testing.T, f *fixture) {
	a, b := f.conn("first-db", at(0)), f.conn("second-db", at(1))
	alice := f.user(a, "alice@example.com", at(2), func(u *identity.User) { u.Username = "alice" })
	bob := f.user(a, "bob@example.com", at(3), func(u *identity.User) { u.Username = "bob" })
	cl, cl2 := f.client("client-1", at(4)), f.client("client-2", at(5))
	g := f.grant(cl.ClientID, "https://api.example.com", at(6))
	ctx, db := f.ctx, f.db

	tests := []struct {
		name string
		call func() error
		want error // nil: allowed
	}{
		{"same user id", func() error { return db.CreateUser(ctx, withID(newUser(b, "fresh@example.com", at(10)), alice.ID)) }, errs.ErrDuplicate},
		{"same email, same connection", func() error { return db.CreateUser(ctx, newUser(a, alice.Email, at(10))) }, errs.ErrDuplicate},
		{"same username, same connection", func() error {
			u := newUser(a, "alias@example.com", at(10))
			u.Username = alice.Username
			return db.CreateUser(ctx, u)
		}, errs.ErrDuplicate},
		{"update to a taken email", func() error {
			u := bob
			u.Email = alice.Email
			return db.UpdateUser(ctx, u)
		}, errs.ErrDuplicate},
		{"update to a taken username", func() error {
			u := bob
			u.Username = alice.Username
			return db.UpdateUser(ctx, u)
		}, errs.ErrDuplicate},
		{"same email, other connection", func() error { return db.CreateUser(ctx, newUser(b, alice.Email, at(11))) }, nil},
		{"same username, other connection", func() error {
			u := newUser(b, "alice2@example.com", at(12))
			u.Username = alice.Username
			return db.CreateUser(ctx, u)
		}, nil},
		{"two users without username", func() error {
			if err := db.CreateUser(ctx, newUser(a, "nouser1@example.com", at(13))); err != nil {
				return err
			}
			return db.CreateUser(ctx, newUser(a, "nouser2@example.com", at(14)))
		}, nil},
		{"same connection name", func() error { return db.CreateConnection(ctx, newConnection(a.Name, at(20))) }, errs.ErrDuplicate},
		{"same connection id", func() error {
			c := newConnection("third-db", at(20))
			c.ID = a.ID
			return db.CreateConnection(ctx, c)
		}, errs.ErrDuplicate},
		{"same client id", func() error { return db.CreateClient(ctx, newClient(cl.ClientID, at(20))) }, errs.ErrDuplicate},
		{"same grant id", func() error {
			return db.CreateClientGrant(ctx, identity.ClientGrant{ID: g.ID, ClientID: cl.ClientID, Audience: "https://other", Scope: []string{}, CreatedAt: at(20)})
		}, errs.ErrDuplicate},
		{"same client and audience", func() error {
			return db.CreateClientGrant(ctx, identity.ClientGrant{ID: identity.NewGrantID(), ClientID: cl.ClientID, Audience: g.Audience, Scope: []string{}, CreatedAt: at(20)})
		}, errs.ErrDuplicate},
		{"same audience, other client", func() error {
			return db.CreateClientGrant(ctx, identity.ClientGrant{ID: identity.NewGrantID(), ClientID: cl2.ClientID, Audience: g.Audience, Scope: []string{}, CreatedAt: at(21)})
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.want == nil {
				if err != nil {
					t.Errorf("got error %v, want none", err)
				}
				return
			}
			wantIs(t, tc.name, err, tc.want)
		})
	}
	// The refused writes changed nothing.
	for _, want := range []identity.User{alice, bob} {
		got, err := db.User(ctx, want.ID)
		if err != nil {
			t.Fatalf("User: %v", err)
		}
		wantUser(t, got, want)
	}
	if got, err := db.Connection(ctx, a.ID); err != nil || got.Name != a.Name {
		t.Errorf("Connection(%s) = %q, %v; want %q", a.ID, got.Name, err, a.Name)
	}
	if got, err := db.ClientGrant(ctx, g.ID); err != nil || got.Audience != g.Audience {
		t.Errorf("ClientGrant(%s) = %q, %v; want %q", g.ID, got.Audience, err, g.Audience)
	}
}

// withID returns u with another id.
func withID(u identity.User, id string) identity.User {
	u.ID = id
	return u
}

func testUsersSort(t *testing.T, f *fixture) {
	c := f.conn("main-db", at(0))
	// Stored in neither creation, email nor login order; alice never logged in.
	for _, u := range []struct {
		email            string
		created, lastLog int
	}{{"carol@example.com", 30, 300}, {"alice@example.com", 20, -1}, {"erin@example.com", 10, 100}, {"bob@example.com", 50, 200}, {"dave@example.com", 40, 50}} {
		f.user(c, u.email, at(u.created), func(x *identity.User) {
			if u.lastLog >= 0 {
				x.LastLogin = at(u.lastLog)
			}
		})
	}
	byCreated := []string{"erin@example.com", "alice@example.com", "carol@example.com", "dave@example.com", "bob@example.com"}
	byEmail := []string{"alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com"}
	tests := []struct {
		name  string
		field string
		desc  bool
		want  []string
	}{
		{"default is created_at ascending", "", false, byCreated},
		{"created_at ascending", "created_at", false, byCreated},
		{"created_at descending", "created_at", true, reversed(byCreated)},
		{"email ascending", "email", false, byEmail},
		{"email descending", "email", true, reversed(byEmail)},
		// Users who never logged in come last either way, on every engine.
		{"last_login ascending", "last_login", false, []string{"dave@example.com", "erin@example.com", "bob@example.com", "carol@example.com", "alice@example.com"}},
		{"last_login descending", "last_login", true, []string{"carol@example.com", "bob@example.com", "erin@example.com", "dave@example.com", "alice@example.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users, total, err := f.db.Users(f.ctx, identity.UserQuery{PerPage: 50, SortField: tc.field, SortDesc: tc.desc, IncludeTotals: true})
			if err != nil {
				t.Fatalf("Users: %v", err)
			}
			if got := emails(users); !slices.Equal(got, tc.want) || total != len(tc.want) {
				t.Errorf("Users = %v, total %d; want %v, total %d", got, total, tc.want, len(tc.want))
			}
		})
	}
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func testUsersPaging(t *testing.T, f *fixture) {
	c := f.conn("main-db", at(0))
	var all []string
	for i, name := range []string{"a", "b", "c", "d", "e"} {
		all = append(all, f.user(c, name+"@example.com", at(i+1), nil).Email)
	}
	tests := []struct {
		page, perPage int
		want          []string
	}{
		{0, 2, all[0:2]},
		{1, 2, all[2:4]},
		{2, 2, all[4:]},
		{3, 2, []string{}},
		{0, 5, all},
		{0, 50, all},
		{1, 3, all[3:]},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("page %d of %d", tc.page, tc.perPage), func(t *testing.T) {
			users, total, err := f.db.Users(f.ctx, identity.UserQuery{Page: tc.page, PerPage: tc.perPage, IncludeTotals: true, SortField: "email"})
			if err != nil {
				t.Fatalf("Users: %v", err)
			}
			if got := emails(users); !slices.Equal(got, tc.want) || total != len(all) {
				t.Errorf("Users = %v, total %d; want %v, total %d", got, total, tc.want, len(all))
			}
		})
	}

	// Users created in the same millisecond still page without repeats or gaps;
	// enough of them that PostgreSQL's top-N sort would reorder ties between pages.
	same := f.conn("same-db", at(0))
	var tied []string
	for i := range 30 {
		tied = append(tied, f.user(same, fmt.Sprintf("tie%d@example.com", i), at(100), nil).ID)
	}
	for _, desc := range []bool{false, true} {
		t.Run(fmt.Sprintf("ties, descending %v", desc), func(t *testing.T) {
			var seen []string
			for page := 0; page*4 <= len(tied); page++ {
				q := identity.UserQuery{Page: page, PerPage: 4, SortDesc: desc, IncludeTotals: true,
					Filter: identity.UserFilter{Terms: []identity.Term{{Field: "identities.connection", Value: same.Name}}}}
				users, total, err := f.db.Users(f.ctx, q)
				if err != nil {
					t.Fatalf("Users: %v", err)
				}
				if total != len(tied) {
					t.Errorf("page %d: total %d, want %d", page, total, len(tied))
				}
				seen = append(seen, ids(users)...)
			}
			slices.Sort(seen)
			want := slices.Sorted(slices.Values(tied))
			if !slices.Equal(seen, want) {
				t.Errorf("pages held %v; want each of %v once", seen, want)
			}
		})
	}
}

func testUsersSearch(t *testing.T, f *fixture) {
	main, other := f.conn("Username-Password-Authentication", at(0)), f.conn("other-db", at(1))
	f.user(main, "alice@example.com", at(10), func(u *identity.User) {
		u.EmailVerified = true
		u.AppMetadata = map[string]any{"active": true, "level": float64(3), "tier": "x", "dept": "R&D", "city": "Zürich"}
		u.UserMetadata = map[string]any{"theme": "dark"}
	})
	f.user(main, "a%b@example.com", at(11), func(u *identity.User) {
		u.AppMetadata = map[string]any{"active": "true", "level": "3", "tier": "y"}
	})
	f.user(other, "a_c@example.com", at(12), func(u *identity.User) {
		u.AppMetadata = map[string]any{"active": false, "level": 3.5, "tier": "X"}
	})
	f.user(other, "abc@example.com", at(13), func(u *identity.User) {
		u.EmailVerified = true
		u.UserMetadata = map[string]any{"tier": "x"}
	})
	f.user(main, "bob@example.com", at(14), func(u *identity.User) {
		u.EmailVerified = true
		u.AppMetadata = map[string]any{"tier": "x", "dept": "RD"}
		u.UserMetadata = map[string]any{"theme": "light"}
	})
	everyone := []string{"alice@example.com", "a%b@example.com", "a_c@example.com", "abc@example.com", "bob@example.com"}

	tests := []struct {
		q    string
		want []string
	}{
		{``, everyone},
		{`email:alice@example.com`, []string{"alice@example.com"}},
		{`email:Alice@Example.COM`, []string{"alice@example.com"}},
		{`email:"ALICE@example.com"`, []string{"alice@example.com"}},
		{`email:alice@example.co`, nil},
		{`email:a*`, []string{"alice@example.com", "a%b@example.com", "a_c@example.com", "abc@example.com"}},
		{`email:AB*`, []string{"abc@example.com"}},
		{`email:a%*`, []string{"a%b@example.com"}},
		{`email:a_*`, []string{"a_c@example.com"}},
		{`email:%*`, nil},
		{`email:_*`, nil},
		{`email:a%b@example.com`, []string{"a%b@example.com"}},
		{`app_metadata.active:true`, []string{"alice@example.com"}},
		{`app_metadata.active:"true"`, []string{"a%b@example.com"}},
		{`app_metadata.active:false`, []string{"a_c@example.com"}},
		{`app_metadata.level:3`, []string{"alice@example.com"}},
		{`app_metadata.level:"3"`, []string{"a%b@example.com"}},
		{`app_metadata.level:3.5`, []string{"a_c@example.com"}},
		{`app_metadata.tier:x`, []string{"alice@example.com", "bob@example.com"}},
		{`app_metadata.tier:"x"`, []string{"alice@example.com", "bob@example.com"}},
		{`app_metadata.dept:"R&D"`, []string{"alice@example.com"}},
		{`app_metadata.city:Zürich`, []string{"alice@example.com"}},
		{`app_metadata.missing:x`, nil},
		{`user_metadata.theme:dark`, []string{"alice@example.com"}},
		{`user_metadata.tier:x`, []string{"abc@example.com"}},
		{`identities.connection:other-db`, []string{"a_c@example.com", "abc@example.com"}},
		{`identities.connection:Username-Password-Authentication`, []string{"alice@example.com", "a%b@example.com", "bob@example.com"}},
		{`email_verified:true`, []string{"alice@example.com", "abc@example.com", "bob@example.com"}},
		{`email_verified:false`, []string{"a%b@example.com", "a_c@example.com"}},
		{`email_verified:true identities.connection:other-db`, []string{"abc@example.com"}},
		{`email_verified:true AND app_metadata.tier:x`, []string{"alice@example.com", "bob@example.com"}},
		{`email:a* AND email_verified:false AND identities.connection:other-db`, []string{"a_c@example.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			filter, err := identity.ParseUserSearch(tc.q)
			if err != nil {
				t.Fatalf("ParseUserSearch: %v", err)
			}
			users, total, err := f.db.Users(f.ctx, identity.UserQuery{Filter: filter, PerPage: 50, IncludeTotals: true})
			if err != nil {
				t.Fatalf("Users: %v", err)
			}
			want := tc.want
			if want == nil {
				want = []string{}
			}
			if got := emails(users); !slices.Equal(got, want) || total != len(want) {
				t.Errorf("Users = %v, total %d; want %v, total %d", got, total, want, len(want))
			}
		})
	}

	// Totals count every match, not the page.
	filter, err := identity.ParseUserSearch(`email:a*`)
	if err != nil {
		t.Fatalf("ParseUserSearch: %v", err)
	}
	users, total, err := f.db.Users(f.ctx, identity.UserQuery{Filter: filter, Page: 1, PerPage: 3, IncludeTotals: true})
	if err != nil || len(users) != 1 || total != 4 {
		t.Errorf("page 1 of 3 of email:a* = %v, total %d, %v; want 1 user, total 4", emails(users), total, err)
	}
}

func testUsersByEmail(t *testing.T, f *fixture) {
	a, b, c := f.conn("first-db", at(0)), f.conn("second-db", at(1)), f.conn("third-db", at(2))
	inB := f.user(b, "same@example.com", at(10), nil)
	inA := f.user(a, "same@example.com", at(20), nil)
	f.user(c, "different@example.com", at(5), nil)
	f.user(a, "same@example.co", at(6), nil)

	users, err := f.db.UsersByEmail(f.ctx, "same@example.com")
	if err != nil {
		t.Fatalf("UsersByEmail: %v", err)
	}
	if got, want := ids(users), []string{inB.ID, inA.ID}; !slices.Equal(got, want) {
		t.Fatalf("UsersByEmail = %v; want %v (oldest first)", got, want)
	}
	wantUser(t, users[0], inB)
	wantUser(t, users[1], inA)

	users, err = f.db.UsersByEmail(f.ctx, "nobody@example.com")
	if err != nil || len(users) != 0 {
		t.Errorf("UsersByEmail(nobody) = %v, %v; want none", ids(users), err)
	}
}

func testDeleteConnectionCascade(t *testing.T, f *fixture) {
	doomed, kept := f.conn("doomed-db", at(0)), f.conn("kept-db", at(1))
	d1 := f.user(doomed, "one@example.com", at(2), func(u *identity.User) { u.Username = "one" })
	d2 := f.user(doomed, "two@example.com", at(3), nil)
	k1 := f.user(kept, "one@example.com", at(4), nil)

	if err := f.db.DeleteConnection(f.ctx, doomed.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	for _, u := range []identity.User{d1, d2} {
		_, err := f.db.User(f.ctx, u.ID)
		wantIs(t, "User in a deleted connection", err, errs.ErrNotFound)
	}
	_, err := f.db.ConnectionByName(f.ctx, doomed.Name)
	wantIs(t, "ConnectionByName after DeleteConnection", err, errs.ErrNotFound)
	users, err := f.db.UsersByEmail(f.ctx, "one@example.com")
	if got, want := ids(users), []string{k1.ID}; err != nil || !slices.Equal(got, want) {
		t.Errorf("UsersByEmail = %v, %v; want %v", got, err, want)
	}
	all, total, err := f.db.Users(f.ctx, identity.UserQuery{PerPage: 50, IncludeTotals: true})
	if got, want := ids(all), []string{k1.ID}; err != nil || !slices.Equal(got, want) || total != 1 {
		t.Errorf("Users = %v, total %d, %v; want %v, total 1", got, total, err, want)
	}
	// The name can be used again, and the old users do not come back with it.
	again := f.conn(doomed.Name, at(5))
	filter := identity.UserFilter{Terms: []identity.Term{{Field: "identities.connection", Value: again.Name}}}
	if users, _, err := f.db.Users(f.ctx, identity.UserQuery{Filter: filter, PerPage: 50}); err != nil || len(users) != 0 {
		t.Errorf("users of the recreated connection = %v, %v; want none", ids(users), err)
	}
	if err := f.db.CreateUser(f.ctx, newUser(again, d1.Email, at(6))); err != nil {
		t.Errorf("CreateUser with a deleted connection's user's email: %v", err)
	}
}

func testDeleteClientCascade(t *testing.T, f *fixture) {
	doomed, kept := f.client("doomed", at(0)), f.client("kept", at(1))
	g1 := f.grant(doomed.ClientID, "https://a.example.com", at(2))
	g2 := f.grant(doomed.ClientID, "https://b.example.com", at(3))
	g3 := f.grant(kept.ClientID, "https://a.example.com", at(4))

	if err := f.db.DeleteClient(f.ctx, doomed.ClientID); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	_, err := f.db.Client(f.ctx, doomed.ClientID)
	wantIs(t, "Client after DeleteClient", err, errs.ErrNotFound)
	for _, g := range []identity.ClientGrant{g1, g2} {
		_, err := f.db.ClientGrant(f.ctx, g.ID)
		wantIs(t, "ClientGrant of a deleted client", err, errs.ErrNotFound)
	}
	grants, err := f.db.ClientGrants(f.ctx)
	if err != nil || len(grants) != 1 || grants[0].ID != g3.ID {
		t.Errorf("ClientGrants = %+v, %v; want only %s", grants, err, g3.ID)
	}
	if _, err := f.db.Client(f.ctx, kept.ClientID); err != nil {
		t.Errorf("DeleteClient removed another client: %v", err)
	}
}

func testConnections(t *testing.T, f *fixture) {
	c := identity.Connection{
		ID: identity.NewConnectionID(), Name: "Username-Password-Authentication", DisplayName: "Staff", Strategy: "auth0",
		Options: map[string]any{
			"disable_signup": true, "brute_force_protection": true, "passwordPolicy": "excellent",
			"password_complexity_options": map[string]any{"min_length": float64(12)}, "requires_username": true,
			"custom": []any{"a", float64(1), nil},
		},
		EnabledClients: []string{"client-1", "client-2"}, Realms: []string{"Username-Password-Authentication"},
		IsDomainConnection: true, ShowAsButton: true, Metadata: map[string]string{"team": "core"},
		CreatedAt: at(30).Add(999 * time.Microsecond),
	}
	// Created out of order; listed oldest first.
	later := f.conn("later-db", at(40))
	if err := f.db.CreateConnection(f.ctx, c); err != nil {
		t.Fatalf("CreateConnection: %v", err)
	}
	earlier := f.conn("earlier-db", at(20))

	want := c
	want.CreatedAt = ms(c.CreatedAt)
	for name, get := range map[string]func() (identity.Connection, error){
		"Connection":       func() (identity.Connection, error) { return f.db.Connection(f.ctx, c.ID) },
		"ConnectionByName": func() (identity.Connection, error) { return f.db.ConnectionByName(f.ctx, c.Name) },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := diff(got, want); d != "" {
			t.Errorf("%s differs:\n%s", name, d)
		}
	}
	list, err := f.db.Connections(f.ctx)
	if err != nil {
		t.Fatalf("Connections: %v", err)
	}
	var names []string
	for _, x := range list {
		names = append(names, x.Name)
	}
	if want := []string{earlier.Name, c.Name, later.Name}; !slices.Equal(names, want) {
		t.Errorf("Connections = %v; want %v", names, want)
	}

	// Options are replaced whole.
	upd := want
	upd.Options = map[string]any{"passwordPolicy": "fair"}
	upd.EnabledClients, upd.DisplayName, upd.ShowAsButton, upd.Metadata = []string{}, "", false, nil
	if err := f.db.UpdateConnection(f.ctx, upd); err != nil {
		t.Fatalf("UpdateConnection: %v", err)
	}
	got, err := f.db.ConnectionByName(f.ctx, c.Name)
	if err != nil {
		t.Fatalf("ConnectionByName: %v", err)
	}
	if d := diff(got, upd); d != "" {
		t.Errorf("updated connection differs:\n%s", d)
	}
	if got, err := f.db.Connection(f.ctx, later.ID); err != nil || got.Name != later.Name || len(got.Options) != len(later.Options) {
		t.Errorf("UpdateConnection changed another connection: %+v, %v", got, err)
	}

	if err := f.db.DeleteConnection(f.ctx, c.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	_, err = f.db.Connection(f.ctx, c.ID)
	wantIs(t, "Connection after DeleteConnection", err, errs.ErrNotFound)
	if list, err := f.db.Connections(f.ctx); err != nil || len(list) != 2 {
		t.Errorf("Connections after delete = %d, %v; want 2", len(list), err)
	}
}

func testClients(t *testing.T, f *fixture) {
	c := identity.Client{
		ClientID: "AbCdEfGhIjKlMnOpQrStUvWxYz012345", Name: "Billing", Description: "Bills people", AppType: "regular_web",
		LogoURI: "https://example.com/logo.png", IsFirstParty: true, OIDCConformant: true,
		Callbacks: []string{"https://app.example.com/callback", "http://localhost:3000/cb"}, AllowedLogoutURLs: []string{"https://app.example.com/"},
		WebOrigins: []string{"https://app.example.com"}, AllowedOrigins: []string{}, InitiateLoginURI: "https://app.example.com/login",
		GrantTypes: []string{"authorization_code", "refresh_token"}, TokenEndpointAuthMethod: "client_secret_basic",
		JWTConfiguration: identity.JWTConfiguration{Alg: "RS256", LifetimeInSeconds: 7200, SecretEncoded: true},
		ClientMetadata:   map[string]string{"team": "billing", "tier": "gold"}, SSO: true, CrossOriginAuth: true,
		SecretHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", CreatedAt: at(30).Add(500 * time.Microsecond),
	}
	later := f.client("later", at(40))
	if err := f.db.CreateClient(f.ctx, c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	earlier := f.client("earlier", at(20))

	want := c
	want.CreatedAt = ms(c.CreatedAt)
	got, err := f.db.Client(f.ctx, c.ClientID)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if d := diff(got, want); d != "" {
		t.Errorf("client differs:\n%s", d)
	}
	list, err := f.db.Clients(f.ctx)
	if err != nil {
		t.Fatalf("Clients: %v", err)
	}
	var idsGot []string
	for _, x := range list {
		idsGot = append(idsGot, x.ClientID)
	}
	if want := []string{earlier.ClientID, c.ClientID, later.ClientID}; !slices.Equal(idsGot, want) {
		t.Errorf("Clients = %v; want %v", idsGot, want)
	}

	// A rotated secret, a rename and new URLs all stick.
	upd := want
	upd.Name, upd.SecretHash, upd.Callbacks, upd.ClientMetadata = "Billing v2", "rotated-hash", []string{}, map[string]string{}
	upd.GrantTypes, upd.SSO = []string{"client_credentials"}, false
	if err := f.db.UpdateClient(f.ctx, upd); err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	got, err = f.db.Client(f.ctx, c.ClientID)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if d := diff(got, upd); d != "" {
		t.Errorf("updated client differs:\n%s", d)
	}
	if got, err := f.db.Client(f.ctx, later.ClientID); err != nil || got.Name != later.Name || got.SecretHash != later.SecretHash {
		t.Errorf("UpdateClient changed another client: %+v, %v", got, err)
	}

	if err := f.db.DeleteClient(f.ctx, c.ClientID); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	_, err = f.db.Client(f.ctx, c.ClientID)
	wantIs(t, "Client after DeleteClient", err, errs.ErrNotFound)
	if list, err := f.db.Clients(f.ctx); err != nil || len(list) != 2 {
		t.Errorf("Clients after delete = %d, %v; want 2", len(list), err)
	}
}

func testClientGrants(t *testing.T, f *fixture) {
	cl := f.client("client-1", at(0))
	later := f.grant(cl.ClientID, "https://later.example.com", at(40))
	g := identity.ClientGrant{ID: identity.NewGrantID(), ClientID: cl.ClientID, Audience: "https://api.example.com/",
		Scope: []string{"read:users", "update:users", "create:users"}, CreatedAt: at(30).Add(1)}
	if err := f.db.CreateClientGrant(f.ctx, g); err != nil {
		t.Fatalf("CreateClientGrant: %v", err)
	}
	earlier := f.grant(cl.ClientID, "https://earlier.example.com", at(20))

	want := g
	want.CreatedAt = ms(g.CreatedAt)
	got, err := f.db.ClientGrant(f.ctx, g.ID)
	if err != nil {
		t.Fatalf("ClientGrant: %v", err)
	}
	if d := diff(got, want); d != "" {
		t.Errorf("grant differs:\n%s", d)
	}
	list, err := f.db.ClientGrants(f.ctx)
	if err != nil {
		t.Fatalf("ClientGrants: %v", err)
	}
	var idsGot []string
	for _, x := range list {
		idsGot = append(idsGot, x.ID)
	}
	if want := []string{earlier.ID, g.ID, later.ID}; !slices.Equal(idsGot, want) {
		t.Errorf("ClientGrants = %v; want %v", idsGot, want)
	}

	for _, scope := range [][]string{{"read:users"}, {}} {
		upd := want
		upd.Scope = scope
		if err := f.db.UpdateClientGrant(f.ctx, upd); err != nil {
			t.Fatalf("UpdateClientGrant: %v", err)
		}
		got, err := f.db.ClientGrant(f.ctx, g.ID)
		if err != nil {
			t.Fatalf("ClientGrant: %v", err)
		}
		if d := diff(got, upd); d != "" {
			t.Errorf("grant with scope %v differs:\n%s", scope, d)
		}
	}

	// A grant needs a client.
	orphan := identity.ClientGrant{ID: identity.NewGrantID(), ClientID: "no-such-client", Audience: "https://x", Scope: []string{}, CreatedAt: at(50)}
	if err := f.db.CreateClientGrant(f.ctx, orphan); err == nil {
		t.Error("CreateClientGrant for a missing client succeeded")
	}

	if err := f.db.DeleteClientGrant(f.ctx, g.ID); err != nil {
		t.Fatalf("DeleteClientGrant: %v", err)
	}
	_, err = f.db.ClientGrant(f.ctx, g.ID)
	wantIs(t, "ClientGrant after DeleteClientGrant", err, errs.ErrNotFound)
	if list, err := f.db.ClientGrants(f.ctx); err != nil || len(list) != 2 {
		t.Errorf("ClientGrants after delete = %d, %v; want 2", len(list), err)
	}
}

func testSettings(t *testing.T, f *fixture) {
	steps := []struct {
		name, value string
	}{
		{"first_client", "abc"},
		{"other", "x"},
		{"first_client", "def"}, // overwrites
		{"other", ""},
	}
	want := map[string]string{}
	for _, s := range steps {
		if err := f.db.PutSetting(f.ctx, s.name, s.value); err != nil {
			t.Fatalf("PutSetting(%s, %q): %v", s.name, s.value, err)
		}
		want[s.name] = s.value
		for name, v := range want {
			if got, err := f.db.Setting(f.ctx, name); err != nil || got != v {
				t.Errorf("after PutSetting(%s, %q): Setting(%s) = %q, %v; want %q", s.name, s.value, name, got, err, v)
			}
		}
	}
}

func testTenantSettings(t *testing.T, f *fixture) {
	full := identity.TenantSettings{
		FriendlyName: "Acme", PictureURL: "https://acme.example.com/logo.png", SupportEmail: "help@acme.example.com",
		SupportURL: "https://acme.example.com/help", DefaultDirectory: "Username-Password-Authentication",
		DefaultAudience: "https://api.acme.example.com", DefaultRedirectionURI: "https://acme.example.com/login",
		SessionLifetime: 720.5, IdleSessionLifetime: 72, AllowedLogoutURLs: []string{"https://acme.example.com/bye"},
		EnabledLocales: []string{"en", "de"}, Flags: map[string]bool{"enable_client_connections": false, "x": true},
		ChangePassword: &identity.ChangePasswordPage{Enabled: true, HTML: "<p>{{ email }} & more</p>"},
		ErrorPage:      &identity.ErrorPage{HTML: "<b>oops</b>", ShowLogLink: true, URL: "https://acme.example.com/error"},
		SandboxVersion: "18", DeviceFlow: map[string]any{"charset": "base20", "mask": "****-****"},
		SessionCookie: map[string]any{"mode": "persistent"}, Sessions: map[string]any{"oidc_logout_prompt_enabled": true},
		GuardianMFAPage:    &identity.ChangePasswordPage{HTML: "mfa"},
		DefaultTokenQuota:  map[string]any{"clients": map[string]any{"client_credentials": map[string]any{"per_day": float64(100)}}},
		ACRValuesSupported: []string{"urn:x"}, MTLS: map[string]any{"enable_endpoint_aliases": false},
	}
	for i, s := range []identity.TenantSettings{full, identity.DefaultTenantSettings()} {
		if err := f.db.SaveTenantSettings(f.ctx, s); err != nil {
			t.Fatalf("SaveTenantSettings #%d: %v", i, err)
		}
		got, err := f.db.TenantSettings(f.ctx)
		if err != nil {
			t.Fatalf("TenantSettings #%d: %v", i, err)
		}
		if d := diff(got, s); d != "" {
			t.Errorf("tenant settings #%d differ:\n%s", i, d)
		}
	}
}

func testSigningKeys(t *testing.T, f *fixture) {
	keys, err := f.db.SigningKeys(f.ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("SigningKeys on a new database = %v, %v; want none", keys, err)
	}
	pem := func(kid string) string {
		return "-----BEGIN PRIVATE KEY-----\n" + kid + "\n-----END PRIVATE KEY-----\n"
	}
	cert := func(kid string) string {
		return "-----BEGIN CERTIFICATE-----\n" + kid + "\n-----END CERTIFICATE-----\n"
	}
	// Added out of order; listed oldest first.
	added := []oauth.StoredKey{
		{KID: "kid-b", PrivateKeyPEM: pem("b"), CertPEM: cert("b"), Role: oauth.RoleCurrent, CreatedAt: at(2000).Add(300 * time.Microsecond), CurrentSince: at(2500)},
		{KID: "kid-c", PrivateKeyPEM: pem("c"), CertPEM: cert("c"), Role: oauth.RoleNext, CreatedAt: at(3000)},
		{KID: "kid-a", PrivateKeyPEM: pem("a"), Role: oauth.RolePrevious, CreatedAt: at(1000), CurrentSince: at(1000), CurrentUntil: at(2500)},
	}
	for _, k := range added {
		if err := f.db.AddSigningKey(f.ctx, k); err != nil {
			t.Fatalf("AddSigningKey %s: %v", k.KID, err)
		}
	}
	want := []oauth.StoredKey{added[2], added[0], added[1]}
	for i := range want {
		want[i].CreatedAt, want[i].CurrentSince, want[i].CurrentUntil = ms(want[i].CreatedAt), ms(want[i].CurrentSince), ms(want[i].CurrentUntil)
	}
	wantKeys := func(what string) {
		t.Helper()
		keys, err := f.db.SigningKeys(f.ctx)
		if err != nil {
			t.Fatalf("SigningKeys: %v", err)
		}
		if !reflect.DeepEqual(keys, want) {
			t.Errorf("%s: SigningKeys = %+v;\nwant %+v", what, keys, want)
		}
	}
	wantKeys("after adding")
	err = f.db.AddSigningKey(f.ctx, oauth.StoredKey{KID: "kid-a", PrivateKeyPEM: pem("other"), Role: oauth.RolePrevious, CreatedAt: at(4000)})
	wantIs(t, "AddSigningKey with a used kid", err, errs.ErrDuplicate)
	for _, role := range []oauth.KeyRole{oauth.RoleCurrent, oauth.RoleNext} {
		err = f.db.AddSigningKey(f.ctx, oauth.StoredKey{KID: "kid-" + string(role), PrivateKeyPEM: pem("x"), Role: role, CreatedAt: at(4000)})
		wantIs(t, "AddSigningKey of a second "+string(role)+" key", err, errs.ErrDuplicate)
	}

	// A legacy key gets its certificate once.
	if err := f.db.SetSigningKeyCert(f.ctx, "kid-a", cert("a")); err != nil {
		t.Fatal(err)
	}
	if err := f.db.SetSigningKeyCert(f.ctx, "kid-a", cert("other")); err != nil {
		t.Fatal(err)
	}
	want[0].CertPEM = cert("a")
	wantKeys("after SetSigningKeyCert")

	// Rotation: current → previous, next → current, a new next; the same
	// rotation a second time finds the keys changed and changes nothing.
	d := oauth.StoredKey{KID: "kid-d", PrivateKeyPEM: pem("d"), CertPEM: cert("d"), Role: oauth.RoleNext, CreatedAt: at(5000)}
	if err := f.db.RotateSigningKeys(f.ctx, "kid-b", "kid-c", d, at(5000)); err != nil {
		t.Fatalf("RotateSigningKeys: %v", err)
	}
	want[1].Role, want[1].CurrentUntil = oauth.RolePrevious, ms(at(5000))
	want[2].Role, want[2].CurrentSince = oauth.RoleCurrent, ms(at(5000))
	want = append(want, d)
	want[3].CreatedAt = ms(want[3].CreatedAt)
	wantKeys("after rotation")
	e := oauth.StoredKey{KID: "kid-e", PrivateKeyPEM: pem("e"), Role: oauth.RoleNext, CreatedAt: at(6000)}
	wantIs(t, "a stale rotation", f.db.RotateSigningKeys(f.ctx, "kid-b", "kid-c", e, at(6000)), oauth.ErrKeysChanged)
	wantKeys("after a stale rotation")

	// Only a previous key can be revoked; its private key goes.
	wantIs(t, "revoking the current key", f.db.RevokeSigningKey(f.ctx, "kid-c", at(7000)), oauth.ErrKeysChanged)
	if err := f.db.RevokeSigningKey(f.ctx, "kid-b", at(7000)); err != nil {
		t.Fatalf("RevokeSigningKey: %v", err)
	}
	want[1].Role, want[1].RevokedAt, want[1].PrivateKeyPEM = oauth.RoleRevoked, ms(at(7000)), ""
	wantKeys("after revocation")
	wantIs(t, "revoking twice", f.db.RevokeSigningKey(f.ctx, "kid-b", at(8000)), oauth.ErrKeysChanged)
}

// fresh opens and migrates another database for a subtest of its own.
func (f *fixture) fresh(t *testing.T) *fixture {
	t.Helper()
	return newFixture(t, f.open)
}

var (
	errOuter = errors.New("outer function failed")
	errInner = errors.New("inner function failed")
)

func testAtomic(t *testing.T, f *fixture) {
	tests := []struct {
		name      string
		inner     error // what the nested Atomic's function returns
		outer     func(innerErr error) error
		committed bool
	}{
		{"both return nil: commit", nil, func(error) error { return nil }, true},
		{"outer fails after nested succeeded: roll back both", nil, func(error) error { return errOuter }, false},
		{"nested fails and outer passes it on: roll back", errInner, func(err error) error { return err }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := f.fresh(t)
			base := f.conn("base-db", at(0))
			existing := f.user(base, "existing@example.com", at(1), nil)
			oldClient := f.client("old-client", at(2))
			oldGrant := f.grant(oldClient.ClientID, "https://api.example.com", at(3))
			if err := f.db.PutSetting(f.ctx, "first_client", "before"); err != nil {
				t.Fatal(err)
			}
			if err := f.db.SaveTenantSettings(f.ctx, identity.TenantSettings{FriendlyName: "Before"}); err != nil {
				t.Fatal(err)
			}

			txConn := newConnection("tx-db", at(10))
			txUser := newUser(txConn, "tx@example.com", at(11))
			nestedUser := newUser(base, "nested@example.com", at(12))
			txClient := newClient("tx-client", at(13))
			txGrant := identity.ClientGrant{ID: identity.NewGrantID(), ClientID: txClient.ClientID, Audience: "https://api.example.com", Scope: []string{"x"}, CreatedAt: at(14)}
			renamed := existing
			renamed.Email, renamed.Profile.Name, renamed.UpdatedAt = "renamed@example.com", "Renamed", at(15)

			err := f.db.Atomic(f.ctx, func(st identity.Store) error {
				for _, step := range []func() error{
					func() error { return st.CreateConnection(f.ctx, txConn) },
					func() error { return st.CreateUser(f.ctx, txUser) },
					func() error { return st.UpdateUser(f.ctx, renamed) },
					func() error { return st.DeleteClient(f.ctx, oldClient.ClientID) },
					func() error { return st.CreateClient(f.ctx, txClient) },
					func() error { return st.CreateClientGrant(f.ctx, txGrant) },
					func() error { return st.PutSetting(f.ctx, "first_client", "after") },
					func() error { return st.SaveTenantSettings(f.ctx, identity.TenantSettings{FriendlyName: "After"}) },
				} {
					if err := step(); err != nil {
						return fmt.Errorf("step in transaction: %w", err)
					}
				}
				innerErr := st.Atomic(f.ctx, func(st identity.Store) error {
					if err := st.CreateUser(f.ctx, nestedUser); err != nil {
						return fmt.Errorf("nested CreateUser: %w", err)
					}
					return tc.inner
				})
				if !errors.Is(innerErr, tc.inner) {
					return fmt.Errorf("nested Atomic returned %v, want %v", innerErr, tc.inner)
				}
				// The nested work is part of the outer transaction.
				if _, err := st.User(f.ctx, nestedUser.ID); err != nil {
					return fmt.Errorf("outer transaction cannot see the nested one's user: %w", err)
				}
				return tc.outer(innerErr)
			})
			wantErr := tc.outer(tc.inner)
			if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
				t.Fatalf("Atomic = %v; want %v", err, wantErr)
			}

			// Everything landed, or nothing did.
			present := func(what string, err error) {
				t.Helper()
				switch {
				case tc.committed && err != nil:
					t.Errorf("%s after commit: %v", what, err)
				case !tc.committed && !errors.Is(err, errs.ErrNotFound):
					t.Errorf("%s after rollback: got %v, want ErrNotFound", what, err)
				}
			}
			absent := func(what string, err error) {
				t.Helper()
				switch {
				case tc.committed && !errors.Is(err, errs.ErrNotFound):
					t.Errorf("%s after commit: got %v, want ErrNotFound", what, err)
				case !tc.committed && err != nil:
					t.Errorf("%s after rollback: %v", what, err)
				}
			}
			_, err = f.db.Connection(f.ctx, txConn.ID)
			present("connection made in the transaction", err)
			_, err = f.db.User(f.ctx, txUser.ID)
			present("user made in the transaction", err)
			_, err = f.db.User(f.ctx, nestedUser.ID)
			present("user made in the nested transaction", err)
			_, err = f.db.Client(f.ctx, txClient.ClientID)
			present("client made in the transaction", err)
			_, err = f.db.ClientGrant(f.ctx, txGrant.ID)
			present("grant made in the transaction", err)
			_, err = f.db.Client(f.ctx, oldClient.ClientID)
			absent("client deleted in the transaction", err)
			_, err = f.db.ClientGrant(f.ctx, oldGrant.ID)
			absent("grant of the client deleted in the transaction", err)

			wantExisting, wantSetting, wantName := existing, "before", "Before"
			if tc.committed {
				wantExisting, wantSetting, wantName = renamed, "after", "After"
			}
			got, err := f.db.User(f.ctx, existing.ID)
			if err != nil {
				t.Fatalf("User: %v", err)
			}
			wantUser(t, got, wantExisting)
			if v, err := f.db.Setting(f.ctx, "first_client"); err != nil || v != wantSetting {
				t.Errorf("Setting = %q, %v; want %q", v, err, wantSetting)
			}
			if s, err := f.db.TenantSettings(f.ctx); err != nil || s.FriendlyName != wantName {
				t.Errorf("TenantSettings.FriendlyName = %q, %v; want %q", s.FriendlyName, err, wantName)
			}
		})
	}
}

func testAtomicStoreError(t *testing.T, f *fixture) {
	c := f.conn("main-db", at(0))
	first := newUser(c, "twin@example.com", at(1))
	err := f.db.Atomic(f.ctx, func(st identity.Store) error {
		if err := st.CreateUser(f.ctx, first); err != nil {
			return err
		}
		return st.CreateUser(f.ctx, newUser(c, first.Email, at(2)))
	})
	wantIs(t, "Atomic creating the same email twice", err, errs.ErrDuplicate)
	_, err = f.db.User(f.ctx, first.ID)
	wantIs(t, "user made before the failing step", err, errs.ErrNotFound)
	// The store is usable afterwards.
	if err := f.db.CreateUser(f.ctx, first); err != nil {
		t.Errorf("CreateUser after a failed transaction: %v", err)
	}
}

func testAtomicSeesOwnWrites(t *testing.T, f *fixture) {
	c := newConnection("tx-db", at(0))
	u := newUser(c, "mine@example.com", at(1))
	err := f.db.Atomic(f.ctx, func(st identity.Store) error {
		if err := st.CreateConnection(f.ctx, c); err != nil {
			return err
		}
		if _, err := st.ConnectionByName(f.ctx, c.Name); err != nil {
			return fmt.Errorf("ConnectionByName inside: %w", err)
		}
		if err := st.CreateUser(f.ctx, u); err != nil {
			return err
		}
		if _, err := st.User(f.ctx, u.ID); err != nil {
			return fmt.Errorf("User inside: %w", err)
		}
		if users, err := st.UsersByEmail(f.ctx, u.Email); err != nil || len(users) != 1 {
			return fmt.Errorf("UsersByEmail inside = %d users, %v; want 1", len(users), err)
		}
		filter := identity.UserFilter{Terms: []identity.Term{{Field: "identities.connection", Value: c.Name}}}
		if users, total, err := st.Users(f.ctx, identity.UserQuery{Filter: filter, PerPage: 10, IncludeTotals: true}); err != nil || len(users) != 1 || total != 1 {
			return fmt.Errorf("Users inside = %d users, total %d, %v; want 1", len(users), total, err)
		}
		// Others do not see the work before it commits.
		if _, err := f.db.User(f.ctx, u.ID); !errors.Is(err, errs.ErrNotFound) {
			return fmt.Errorf("User outside before commit = %v, want ErrNotFound", err)
		}
		u.LoginsCount = 7
		if err := st.UpdateUser(f.ctx, u); err != nil {
			return err
		}
		if got, err := st.User(f.ctx, u.ID); err != nil || got.LoginsCount != 7 {
			return fmt.Errorf("User inside after update = %d logins, %v; want 7", got.LoginsCount, err)
		}
		if err := st.PutSetting(f.ctx, "k", "v"); err != nil {
			return err
		}
		if v, err := st.Setting(f.ctx, "k"); err != nil || v != "v" {
			return fmt.Errorf("Setting inside = %q, %v; want v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Atomic: %v", err)
	}
	if got, err := f.db.User(f.ctx, u.ID); err != nil || got.LoginsCount != 7 {
		t.Errorf("User after commit = %d logins, %v; want 7", got.LoginsCount, err)
	}
}

func testAtomicPanic(t *testing.T, f *fixture) {
	c := f.conn("main-db", at(0))
	u := newUser(c, "panic@example.com", at(1))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Atomic swallowed the panic of its function")
			}
		}()
		f.db.Atomic(f.ctx, func(st identity.Store) error {
			if err := st.CreateUser(f.ctx, u); err != nil {
				t.Errorf("CreateUser: %v", err)
			}
			panic("boom")
		})
	}()
	// The panicking transaction was rolled back: the store takes writes again
	// and the same user can be made.
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	if err := f.db.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser after a panic in Atomic: %v", err)
	}
}

func testConcurrentCreates(t *testing.T, f *fixture) {
	const n = 16
	c := f.conn("main-db", at(0))
	ctx := f.ctx
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			u := newUser(c, fmt.Sprintf("user%02d@example.com", i), at(i))
			<-start
			var err error
			if i%2 == 0 {
				err = f.db.CreateUser(ctx, u)
			} else {
				// The way the service updates: read and write in one transaction.
				err = f.db.Atomic(ctx, func(st identity.Store) error {
					if _, err := st.ConnectionByName(ctx, c.Name); err != nil {
						return err
					}
					if err := st.CreateUser(ctx, u); err != nil {
						return err
					}
					_, err := st.User(ctx, u.ID)
					return err
				})
			}
			if err == nil {
				_, err = f.db.User(ctx, u.ID)
			}
			if err == nil {
				_, _, err = f.db.Users(ctx, identity.UserQuery{PerPage: 5, IncludeTotals: true})
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if _, total, err := f.db.Users(f.ctx, identity.UserQuery{PerPage: 1, IncludeTotals: true}); err != nil || total != n {
		t.Errorf("Users total = %d, %v; want %d", total, err, n)
	}
}

func testConcurrentDuplicateEmail(t *testing.T, f *fixture) {
	c := f.conn("main-db", at(0))
	ctx := f.ctx
	for round := range 8 {
		email := fmt.Sprintf("race%d@example.com", round)
		start := make(chan struct{})
		var results [2]error
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				u := newUser(c, email, at(round*10+i))
				<-start
				results[i] = f.db.CreateUser(ctx, u)
			})
		}
		close(start)
		wg.Wait()
		var ok, dup int
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, errs.ErrDuplicate):
				dup++
			default:
				t.Errorf("round %d: unexpected error %v", round, err)
			}
		}
		if ok != 1 || dup != 1 {
			t.Errorf("round %d: %d succeeded and %d were duplicates (%v); want 1 and 1", round, ok, dup, results)
		}
		if users, err := f.db.UsersByEmail(ctx, email); err != nil || len(users) != 1 {
			t.Errorf("round %d: UsersByEmail = %d users, %v; want 1", round, len(users), err)
		}
	}
}

// testConcurrentAtomicFailures runs many transactions at once, as concurrent
// requests do (SQLite commits them in groups), some of which fail in every
// way a transaction can: each caller must get its own outcome, a failed
// caller must leave nothing behind, and every successful one must land whole.
func testConcurrentAtomicFailures(t *testing.T, f *fixture) {
	c := f.conn("main-db", at(0))
	taken := f.user(c, "taken@example.com", at(1), nil)
	const (
		succeeds = iota
		returnsError
		hitsDuplicate
		panics
		isCancelled
		kinds
	)
	const n = 8 * kinds
	type outcome struct {
		err      error
		panicked any
	}
	users := make([]identity.User, n)
	outcomes := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		users[i] = newUser(c, fmt.Sprintf("member%02d@example.com", i), at(10+i))
		wg.Go(func() {
			u, kind := users[i], i%kinds
			ctx, cancel := context.WithCancel(f.ctx)
			defer cancel()
			defer func() { outcomes[i].panicked = recover() }()
			<-start
			outcomes[i].err = f.db.Atomic(ctx, func(st identity.Store) error {
				inv := identity.Invitation{ID: "inv_" + u.ID, UserID: u.ID, Email: u.Email, ConnectionID: c.ID, TTL: time.Hour,
					TicketID: "ticket_" + u.ID, CreatedAt: u.CreatedAt, ExpiresAt: u.CreatedAt.Add(time.Hour)}
				for _, step := range []func() error{
					func() error { return st.CreateUser(ctx, u) },
					func() error { return st.CreateInvitation(ctx, inv) },
					func() error {
						return st.AddInvitationEvents(ctx, inv.ID, identity.InvitationEvent{At: u.CreatedAt, Type: "created"},
							identity.InvitationEvent{At: u.CreatedAt, Type: "sent", MailID: "mail_" + u.ID})
					},
					func() error { return st.PutSetting(ctx, "member_"+u.ID, u.Email) },
				} {
					if err := step(); err != nil {
						return fmt.Errorf("member %d: %w", i, err)
					}
				}
				switch kind {
				case returnsError:
					return memberError(i)
				case hitsDuplicate:
					return st.CreateUser(ctx, newUser(c, taken.Email, at(10+i)))
				case panics:
					panic(memberError(i))
				case isCancelled:
					cancel()
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()

	for i, u := range users {
		got, kind := outcomes[i], i%kinds
		switch {
		case kind == succeeds && (got.err != nil || got.panicked != nil):
			t.Errorf("member %d (succeeds) = %v, panic %v; want nil", i, got.err, got.panicked)
		case kind == returnsError && !errors.Is(got.err, memberError(i)):
			t.Errorf("member %d (returns its error) = %v; want %v", i, got.err, memberError(i))
		case kind == hitsDuplicate && !errors.Is(got.err, errs.ErrDuplicate):
			t.Errorf("member %d (duplicate email) = %v; want ErrDuplicate", i, got.err)
		case kind == panics && got.panicked != memberError(i):
			t.Errorf("member %d (panics) recovered %v, returned %v; want its own panic", i, got.panicked, got.err)
		case kind == isCancelled && got.err == nil:
			t.Errorf("member %d (cancelled) = nil; want an error", i)
		}
		_, userErr := f.db.User(f.ctx, u.ID)
		inv, invErr := f.db.Invitation(f.ctx, "inv_"+u.ID)
		setting, settingErr := f.db.Setting(f.ctx, "member_"+u.ID)
		if kind != succeeds {
			for what, err := range map[string]error{"user": userErr, "invitation": invErr, "setting": settingErr} {
				wantIs(t, fmt.Sprintf("member %d, which failed: its %s", i, what), err, errs.ErrNotFound)
			}
			continue
		}
		if userErr != nil || invErr != nil || settingErr != nil || setting != u.Email {
			t.Errorf("member %d, which succeeded: user %v, invitation %v, setting %q %v", i, userErr, invErr, setting, settingErr)
			continue
		}
		if len(inv.Events) != 2 || inv.Events[0].Type != "created" || inv.Events[1].Type != "sent" || inv.Events[1].MailID != "mail_"+u.ID {
			t.Errorf("member %d: invitation history = %+v; want created, then sent with mail_%s", i, inv.Events, u.ID)
		}
	}
	// The store takes transactions afterwards.
	if err := f.db.Atomic(f.ctx, func(st identity.Store) error { return st.PutSetting(f.ctx, "after", "yes") }); err != nil {
		t.Errorf("Atomic after the concurrent ones: %v", err)
	}
}

// memberError is the error member i of testConcurrentAtomicFailures fails with.
type memberError int

func (e memberError) Error() string { return fmt.Sprintf("member %d failed on purpose", int(e)) }

// SQLite opens a migrated database in a new SQLite file, closed when the
// test ends: the tenant of a package's own tests.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "usher.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

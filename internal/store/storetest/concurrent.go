package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
)

// writers is how many transactions change one record at the same moment.
const writers = 16

// testConcurrentReadModifyWrite has writers transactions each read a
// record, change it and write it back, all at once, for every kind of
// record the domain changes that way: every change must be kept. On
// PostgreSQL this fails unless a read meant for a write holds its row (or,
// for a record that may not exist yet, its name); on SQLite one writer at
// a time already keeps them.
func testConcurrentReadModifyWrite(t *testing.T, f *fixture) {
	c := f.conn("Concurrent", at(0))
	u := f.user(c, "rmw@example.com", at(0), nil)
	f.client("client_rmw", at(0))
	g := f.grant("client_rmw", "https://api.example.com/", at(0))
	inv := identity.Invitation{ID: "inv_rmw", UserID: u.ID, Email: u.Email, ConnectionID: c.ID, TTL: time.Hour,
		TicketID: "ticket-rmw", CreatedAt: at(0), ExpiresAt: at(0)}
	if err := f.db.CreateInvitation(f.ctx, inv); err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateJob(f.ctx, newJob("job_rmw", at(0))); err != nil {
		t.Fatal(err)
	}
	if err := f.db.SaveTenantSettings(f.ctx, identity.DefaultTenantSettings()); err != nil {
		t.Fatal(err)
	}
	if err := f.db.PutSetting(f.ctx, "counter", "0"); err != nil {
		t.Fatal(err)
	}
	f.action("act_rmw", "rmw", 0)
	for i := range writers {
		f.action(fmt.Sprintf("act_bound_%d", i), fmt.Sprintf("bound %d", i), i)
	}
	key := func(i int) string { return "k" + strconv.Itoa(i) }
	// inActions and inMail run a change in a transaction of the actions'
	// store or the mail's, as their services do.
	inActions := func(change func(ctx context.Context, st actions.Store, i int) error) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			return f.db.AtomicActions(ctx, func(st actions.Store) error { return change(ctx, st, i) })
		}
	}
	inMail := func(change func(ctx context.Context, st mail.Tx, i int) error) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			return f.db.AtomicMail(ctx, func(st mail.Tx) error { return change(ctx, st, i) })
		}
	}
	kinds := []struct {
		name string
		// change makes writer i's change through st.
		change func(ctx context.Context, st identity.Store, i int) error
		// run, when set instead of change, runs writer i's whole transaction.
		run func(ctx context.Context, i int) error
		// kept counts the changes the record holds at the end.
		kept func(ctx context.Context) (int, error)
	}{
		{"user", func(ctx context.Context, st identity.Store, i int) error {
			u, err := st.User(ctx, u.ID)
			if err != nil {
				return err
			}
			u.LoginsCount++
			u.AppMetadata[key(i)] = true
			return st.UpdateUser(ctx, u)
		}, nil, func(ctx context.Context) (int, error) {
			u, err := f.db.User(ctx, u.ID)
			if len(u.AppMetadata) != int(u.LoginsCount) {
				return 0, fmt.Errorf("logins_count %d but %d app_metadata keys", u.LoginsCount, len(u.AppMetadata))
			}
			return int(u.LoginsCount), err
		}},
		{"client", func(ctx context.Context, st identity.Store, i int) error {
			c, err := st.Client(ctx, "client_rmw")
			if err != nil {
				return err
			}
			c.ClientMetadata[key(i)] = "x"
			return st.UpdateClient(ctx, c)
		}, nil, func(ctx context.Context) (int, error) {
			c, err := f.db.Client(ctx, "client_rmw")
			return len(c.ClientMetadata), err
		}},
		{"client grant", func(ctx context.Context, st identity.Store, i int) error {
			g, err := st.ClientGrant(ctx, g.ID)
			if err != nil {
				return err
			}
			g.Scope = append(g.Scope, key(i))
			return st.UpdateClientGrant(ctx, g)
		}, nil, func(ctx context.Context) (int, error) {
			g, err := f.db.ClientGrant(ctx, g.ID)
			return len(g.Scope) - 1, err
		}},
		{"connection", func(ctx context.Context, st identity.Store, i int) error {
			c, err := st.Connection(ctx, c.ID)
			if err != nil {
				return err
			}
			if c.Metadata == nil {
				c.Metadata = map[string]string{}
			}
			c.Metadata[key(i)] = "x"
			return st.UpdateConnection(ctx, c)
		}, nil, func(ctx context.Context) (int, error) {
			c, err := f.db.Connection(ctx, c.ID)
			return len(c.Metadata), err
		}},
		{"invitation", func(ctx context.Context, st identity.Store, i int) error {
			inv, err := st.Invitation(ctx, "inv_rmw")
			if err != nil {
				return err
			}
			inv.ExpiresAt = inv.ExpiresAt.Add(time.Second)
			return st.UpdateInvitation(ctx, inv)
		}, nil, func(ctx context.Context) (int, error) {
			inv, err := f.db.Invitation(ctx, "inv_rmw")
			return int(inv.ExpiresAt.Sub(at(0)) / time.Second), err
		}},
		{"job", func(ctx context.Context, st identity.Store, i int) error {
			// Jobs are the imports package's: its store reads and saves them.
			jobs := st.(interface {
				Job(ctx context.Context, id string) (identity.Job, error)
				SaveJob(ctx context.Context, j identity.Job) error
			})
			j, err := jobs.Job(ctx, "job_rmw")
			if err != nil {
				return err
			}
			j.Summary.Inserted++
			return jobs.SaveJob(ctx, j)
		}, nil, func(ctx context.Context) (int, error) {
			j, err := f.db.Job(ctx, "job_rmw")
			return int(j.Summary.Inserted), err
		}},
		{"tenant settings", func(ctx context.Context, st identity.Store, i int) error {
			s, err := st.TenantSettings(ctx)
			if err != nil {
				return err
			}
			s.EnabledLocales = append(s.EnabledLocales, key(i))
			return st.SaveTenantSettings(ctx, s)
		}, nil, func(ctx context.Context) (int, error) {
			s, err := f.db.TenantSettings(ctx)
			return len(s.EnabledLocales) - len(identity.DefaultTenantSettings().EnabledLocales), err
		}},
		{"setting", func(ctx context.Context, st identity.Store, i int) error {
			v, err := st.Setting(ctx, "counter")
			if err != nil {
				return err
			}
			n, _ := strconv.Atoi(v)
			return st.PutSetting(ctx, "counter", strconv.Itoa(n+1))
		}, nil, func(ctx context.Context) (int, error) {
			v, err := f.db.Setting(ctx, "counter")
			n, _ := strconv.Atoi(v)
			return n, err
		}},
		// A setting nobody wrote yet has no row to hold: the first writers
		// all find none.
		{"new setting", func(ctx context.Context, st identity.Store, i int) error {
			v, err := st.Setting(ctx, "fresh")
			if err != nil && !errors.Is(err, errs.ErrNotFound) {
				return err
			}
			return st.PutSetting(ctx, "fresh", v+key(i)+";")
		}, nil, func(ctx context.Context) (int, error) {
			v, err := f.db.Setting(ctx, "fresh")
			return strings.Count(v, ";"), err
		}},
		{"action", nil, inActions(func(ctx context.Context, st actions.Store, i int) error {
			a, err := st.Action(ctx, "act_rmw")
			if err != nil {
				return err
			}
			a.Secrets = append(a.Secrets, secret(key(i), "v", i))
			return st.UpdateAction(ctx, a)
		}), func(ctx context.Context) (int, error) {
			a, err := f.db.Action(ctx, "act_rmw")
			return len(a.Secrets), err
		}},
		// A trigger starts with no bindings, so no row to hold either.
		{"bindings", nil, inActions(func(ctx context.Context, st actions.Store, i int) error {
			bs, err := st.Bindings(ctx, "post-login")
			if err != nil {
				return err
			}
			bs = append(bs, actions.Binding{ID: "bind_" + key(i), TriggerID: "post-login", ActionID: fmt.Sprintf("act_bound_%d", i),
				DisplayName: key(i), Secrets: []actions.Secret{}, CreatedAt: at(i), UpdatedAt: at(i)})
			return st.ReplaceBindings(ctx, "post-login", bs)
		}), func(ctx context.Context) (int, error) {
			bs, err := f.db.Bindings(ctx, "post-login")
			return len(bs), err
		}},
		// A template the tenant never changed is not stored: its first
		// writers all start from the default.
		{"email template", nil, inMail(func(ctx context.Context, st mail.Tx, i int) error {
			t, err := st.EmailTemplate(ctx, "welcome_email")
			if errors.Is(err, errs.ErrNotFound) {
				t, err = mail.Template{Name: "welcome_email", Syntax: "liquid"}, nil
			}
			if err != nil {
				return err
			}
			t.Body += key(i) + ";"
			return st.SaveEmailTemplate(ctx, t)
		}), func(ctx context.Context) (int, error) {
			t, err := f.db.EmailTemplate(ctx, "welcome_email")
			return strings.Count(t.Body, ";"), err
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			start := make(chan struct{})
			failures := make([]error, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					<-start
					if k.run != nil {
						failures[i] = k.run(f.ctx, i)
						return
					}
					failures[i] = f.db.Atomic(f.ctx, func(st identity.Store) error { return k.change(f.ctx, st, i) })
				})
			}
			close(start)
			wg.Wait()
			for i, err := range failures {
				if err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
			}
			if got, err := k.kept(f.ctx); err != nil || got != writers {
				t.Errorf("%d of %d concurrent changes kept (%v)", got, writers, err)
			}
		})
	}
}

package identity

import (
	"context"
	"time"

	"github.com/usherid/usher/internal/cache"
)

// settingsTTL bounds how long another instance's change to a connection or
// to the tenant's settings can go unseen here; changes made through this
// instance are seen at once.
const settingsTTL = 2 * time.Second

// connCache keeps recently read connections by name: every user created
// needs its connection's rules, and connections change rarely.
type connCache struct {
	byName *cache.TTL[string, Connection]
}

func newConnCache() connCache {
	return connCache{cache.New[string, Connection](settingsTTL, 1000)}
}

func (cc connCache) get(ctx context.Context, st ConnectionStore, name string, now time.Time) (Connection, error) {
	return cc.byName.Get(name, now, func() (Connection, error) { return st.ConnectionByName(ctx, name) })
}

// forget drops every cached connection, after this instance changed one.
func (cc connCache) forget() { cc.byName.Forget() }

package identity

import (
	"context"
	"sync"
	"time"
)

// connCacheTTL bounds how long another instance's change to a connection
// can go unseen here; changes made through this instance are seen at once.
const connCacheTTL = 2 * time.Second

// connCache keeps recently read connections by name: every user created
// needs its connection's rules, and connections change rarely.
type connCache struct {
	mu     sync.Mutex
	byName map[string]cachedConn
}

type cachedConn struct {
	c  Connection
	at time.Time
}

func (cc *connCache) get(ctx context.Context, st Store, name string, now time.Time) (Connection, error) {
	cc.mu.Lock()
	hit, ok := cc.byName[name]
	cc.mu.Unlock()
	if ok && now.Sub(hit.at) < connCacheTTL {
		return hit.c, nil
	}
	c, err := st.ConnectionByName(ctx, name)
	if err != nil {
		return c, err
	}
	cc.mu.Lock()
	if cc.byName == nil || len(cc.byName) > 1000 {
		cc.byName = map[string]cachedConn{}
	}
	cc.byName[name] = cachedConn{c, now}
	cc.mu.Unlock()
	return c, nil
}

// forget drops every cached connection, after this instance changed one.
func (cc *connCache) forget() {
	cc.mu.Lock()
	cc.byName = nil
	cc.mu.Unlock()
}

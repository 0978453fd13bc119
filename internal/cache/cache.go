// Package cache keeps values read from the database for a short time, for
// the settings that every request needs and that change rarely.
package cache

import (
	"sync"
	"time"
)

// TTL keeps values by key for a fixed time. An instance that changes a value
// calls Forget once the change is committed and reads it afresh at once;
// other instances on the same database see it within the TTL.
type TTL[K comparable, V any] struct {
	ttl    time.Duration
	max    int
	mu     sync.Mutex
	gen    uint64 // counts Forget calls, so a load that raced one is not kept
	values map[K]entry[V]
}

type entry[V any] struct {
	v  V
	at time.Time
}

// New returns a cache keeping each value for ttl and at most max values
// (past that it starts afresh).
func New[K comparable, V any](ttl time.Duration, max int) *TTL[K, V] {
	return &TTL[K, V]{ttl: ttl, max: max}
}

// Get returns the value for key, calling load when it is missing, older than
// the TTL at now, or from the future (the clock went back). Errors are not kept. The value is shared: callers
// must not change what it refers to.
func (c *TTL[K, V]) Get(key K, now time.Time, load func() (V, error)) (V, error) {
	c.mu.Lock()
	hit, ok := c.values[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Sub(hit.at) < c.ttl && !now.Before(hit.at) {
		return hit.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	// A Forget since the load began may mean it read what was just
	// replaced: hand it to this caller, but do not keep it.
	if c.gen == gen {
		if c.values == nil || len(c.values) >= c.max {
			c.values = map[K]entry[V]{}
		}
		c.values[key] = entry[V]{v, now}
	}
	c.mu.Unlock()
	return v, nil
}

// Forget drops every value, after this instance changed one.
func (c *TTL[K, V]) Forget() {
	c.mu.Lock()
	c.values = nil
	c.gen++
	c.mu.Unlock()
}

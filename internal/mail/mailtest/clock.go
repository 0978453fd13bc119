package mailtest

import (
	"sync"
	"time"
)

// Clock is a clock for the outbox worker (mail.Clock), and for a whole
// server, that moves when a test says so. One made by NewClock stands still
// until Advance moves it, so that a test ends a delivery-rate window at once
// instead of waiting a minute, and knows that nothing happens meanwhile. One
// made by NewRunningClock keeps pace with the real time, ahead of it by
// however far Advance has moved it: a server on it behaves as on the
// system's clock until the test jumps it past an expiry instead of sleeping.
type Clock struct {
	mu      sync.Mutex
	now     time.Time     // a standing clock's time
	running bool          // whether it keeps pace with the real time
	ahead   time.Duration // a running clock's lead over the real time
	waiters []waiter
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

// NewClock returns a Clock showing now, standing still until Advance.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// NewRunningClock returns a Clock showing the real time, and moving with it.
func NewRunningClock() *Clock { return &Clock{running: true} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.time()
}

func (c *Clock) time() time.Time {
	if c.running {
		return time.Now().Add(c.ahead)
	}
	return c.now
}

// After returns a channel that receives the clock's time once it has moved
// by d or more: through Advance, or, on a running clock, with the real time.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.time()
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.time().Add(d), c: ch})
	if c.running {
		time.AfterFunc(d, c.wake)
	}
	return ch
}

// Advance moves the clock forward by d and wakes whoever waits until then.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		c.ahead += d
	} else {
		c.now = c.now.Add(d)
	}
	c.wakeLocked()
}

func (c *Clock) wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wakeLocked()
}

// wakeLocked wakes the waiters whose time has come.
func (c *Clock) wakeLocked() {
	now := c.time()
	waiting := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(now) {
			waiting = append(waiting, w)
			continue
		}
		w.c <- now
	}
	c.waiters = waiting
}

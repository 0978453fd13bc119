package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// clock is a time the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func testLimiter(c *clock, perSecond float64, burst int) *limiter {
	l := newLimiter(rate.Limit(perSecond), burst)
	l.now = c.now
	return l
}

// drain spends key's whole bucket and checks the next request is refused.
func drain(t *testing.T, l *limiter, key string, burst int) {
	t.Helper()
	for i := range burst {
		if !l.allow(key) {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if l.allow(key) {
		t.Fatal("the request past the burst was allowed")
	}
}

func TestLimiterKeepsADrainedBucketWhenManyAddressesArrive(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := testLimiter(c, 1, 5)
	drain(t, l, "198.51.100.7", 5)
	// An attacker with many addresses, each asking once: more new keys than
	// the limiter keeps.
	for i := range maxKeys + 50 {
		l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if l.allow("198.51.100.7") {
		t.Fatal("the drained address got a fresh bucket after the flood of new addresses")
	}
	if n := len(l.buckets); n > maxKeys {
		t.Fatalf("the limiter keeps %d keys, more than %d", n, maxKeys)
	}
	// Time still refills it, as ever.
	c.t = c.t.Add(time.Second)
	if !l.allow("198.51.100.7") {
		t.Fatal("a second later the drained address is still refused")
	}
}

func TestLimiterForgetsRefilledKeysFirst(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := testLimiter(c, 1, 5)
	for i := range maxKeys - 1 {
		l.allow(fmt.Sprintf("old-%d", i))
	}
	c.t = c.t.Add(time.Minute) // every old bucket is full again
	drain(t, l, "victim", 5)
	l.allow("newcomer") // the table is full: this sweeps
	if n := len(l.buckets); n != 2 {
		t.Fatalf("after the sweep the limiter keeps %d keys, want the victim and the newcomer", n)
	}
	if l.allow("victim") {
		t.Fatal("the sweep handed the drained key a fresh bucket")
	}
}

func TestLimiterForgetsTheFullestBucketsWhenNoneIsFull(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := testLimiter(c, 1, 5)
	drain(t, l, "victim", 5)
	for i := range maxKeys - 1 {
		key := fmt.Sprintf("k-%d", i)
		l.allow(key)
		if i%2 == 0 {
			l.allow(key) // half the keys spent two tokens, half one
		}
	}
	l.allow("newcomer")
	if n, want := len(l.buckets), maxKeys-maxKeys/8+1; n != want {
		t.Fatalf("after the sweep the limiter keeps %d keys, want %d (seven eighths, and the newcomer)", n, want)
	}
	for i := 0; i < maxKeys-1; i += 2 {
		if _, ok := l.buckets[fmt.Sprintf("k-%d", i)]; !ok {
			t.Fatalf("k-%d, with 3 tokens left, was forgotten while buckets with 4 were kept", i)
		}
	}
	if _, ok := l.buckets["victim"]; !ok {
		t.Fatal("the drained bucket was forgotten before fuller ones")
	}
}

// The same attack through the HTTP middleware: the address comes from the
// connection, as limitPerIP reads it.
func TestLimitPerIPSurvivesManyAddresses(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	h := limitWith(testLimiter(c, 1, 5), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	post := func(addr string) int {
		r := httptest.NewRequest("POST", "/lo/request", nil)
		r.RemoteAddr = addr + ":40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for range 5 {
		post("198.51.100.7")
	}
	if st := post("198.51.100.7"); st != http.StatusTooManyRequests {
		t.Fatalf("past its burst the address got %d, want 429", st)
	}
	for i := range maxKeys + 50 {
		post(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if st := post("198.51.100.7"); st != http.StatusTooManyRequests {
		t.Fatalf("after %d other addresses the drained address got %d, want 429", maxKeys+50, st)
	}
}

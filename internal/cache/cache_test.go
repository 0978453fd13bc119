package cache

import (
	"errors"
	"testing"
	"time"
)

func TestTTL(t *testing.T) {
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	c := New[string, int](2*time.Second, 10)
	stored := 1
	loads := 0
	load := func() (int, error) { loads++; return stored, nil }
	get := func(now time.Time) int {
		t.Helper()
		v, err := c.Get("k", now, load)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	steps := []struct {
		name      string
		do        func()
		at        time.Duration
		want      int
		wantLoads int
	}{
		{"first read loads", nil, 0, 1, 1},
		{"within the TTL: kept", func() { stored = 2 }, time.Second, 1, 1},
		{"past the TTL: loaded again", nil, 2 * time.Second, 2, 2},
		{"after Forget: loaded at once", func() { stored = 3; c.Forget() }, 2 * time.Second, 3, 3},
		{"the clock went back: loaded again", func() { stored = 4 }, time.Second, 4, 4},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		if got := get(t0.Add(s.at)); got != s.want || loads != s.wantLoads {
			t.Errorf("%s: got %d after %d loads; want %d after %d", s.name, got, loads, s.want, s.wantLoads)
		}
	}
}

func TestTTLErrorsAreNotKept(t *testing.T) {
	c := New[string, int](time.Minute, 10)
	now := time.Now()
	boom := errors.New("boom")
	if _, err := c.Get("k", now, func() (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("Get = %v; want boom", err)
	}
	if v, err := c.Get("k", now, func() (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("Get after an error = %d, %v; want 7", v, err)
	}
}

// A value loaded while this instance made a change may be the old one: it
// is returned to its caller but not kept.
func TestTTLLoadRacingForget(t *testing.T) {
	c := New[string, int](time.Minute, 10)
	now := time.Now()
	v, _ := c.Get("k", now, func() (int, error) {
		c.Forget() // the change commits while the old value is being read
		return 1, nil
	})
	if v != 1 {
		t.Fatalf("Get = %d; want 1", v)
	}
	if v, _ := c.Get("k", now, func() (int, error) { return 2, nil }); v != 2 {
		t.Errorf("Get after the racing load = %d; want 2 (the racing load was kept)", v)
	}
}

package mailtest

import (
	"testing"
	"time"
)

func TestStandingClockMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(start)
	after := c.After(time.Minute)
	time.Sleep(5 * time.Millisecond)
	if !c.Now().Equal(start) {
		t.Fatalf("a standing clock moved by itself: %v", c.Now())
	}
	c.Advance(59 * time.Second)
	select {
	case <-after:
		t.Fatal("After(1m) fired 59 s in")
	default:
	}
	c.Advance(time.Second)
	select {
	case at := <-after:
		if !at.Equal(start.Add(time.Minute)) {
			t.Fatalf("After fired at %v", at)
		}
	default:
		t.Fatal("After(1m) did not fire a minute in")
	}
}

func TestRunningClockKeepsPaceAndJumps(t *testing.T) {
	c := NewRunningClock()
	if d := time.Until(c.Now()); d < -time.Second || d > time.Second {
		t.Fatalf("a new running clock is %v off the real time", d)
	}
	first := c.Now()
	time.Sleep(10 * time.Millisecond)
	if !c.Now().After(first) {
		t.Fatal("a running clock stood still")
	}
	c.Advance(time.Hour)
	if d := time.Until(c.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("after Advance(1h) the clock is %v ahead of the real time", d)
	}

	// After fires when Advance jumps past it...
	jumped := c.After(time.Hour)
	c.Advance(time.Hour)
	select {
	case <-jumped:
	case <-time.After(time.Second):
		t.Fatal("After(1h) did not fire when the clock jumped an hour")
	}
	// ...and when the real time gets there.
	soon := c.After(20 * time.Millisecond)
	select {
	case <-soon:
	case <-time.After(5 * time.Second):
		t.Fatal("After(20ms) did not fire with the real time")
	}
}

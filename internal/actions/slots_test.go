package actions

import (
	"errors"
	"testing"
	"time"
)

// TestRunSlots checks the bound on runs at once: past it a run waits for
// QueueWait and then fails with ErrBusy; a freed slot is taken again.
func TestRunSlots(t *testing.T) {
	s := NewService(nil, Options{MaxRuns: 2, QueueWait: time.Millisecond})
	r1, err1 := s.acquire(t.Context())
	r2, err2 := s.acquire(t.Context())
	if err1 != nil || err2 != nil {
		t.Fatalf("the first two slots: %v, %v", err1, err2)
	}
	if _, err := s.acquire(t.Context()); !errors.Is(err, ErrBusy) {
		t.Fatalf("a third run: %v, want ErrBusy", err)
	}
	r1()
	r3, err := s.acquire(t.Context())
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	r2()
	r3()
}

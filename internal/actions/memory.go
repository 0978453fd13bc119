package actions

import (
	"runtime/metrics"
	"sync"
	"time"
)

// Go gives no way to count what one goroutine allocates, nor to make an
// allocation fail: past what the machine has, the whole process dies. So a
// run's memory is bounded in two layers. The builtins that can allocate a
// lot in one call (String.prototype.repeat, new ArrayBuffer, join, …) are
// replaced by guarded ones that refuse a result larger than the budget
// before it is allocated (guards.go). Everything else grows step by step
// through the interpreter, and a watchdog samples the Go heap while runs
// are active and interrupts a run once the heap has grown past its budget
// since the run started. Between two samples a run can at most finish the
// step it is in, so the heap stays within a small multiple of the budget.
//
// The heap also holds garbage, so growth counts from the larger of the heap
// and the GC's goal at the run's start: the garbage the rest of the server
// makes stays below the goal. A run may therefore use, besides its budget,
// the room the GC leaves (as much as the live heap at the last collection,
// with GOGC=100). Collecting to know for sure was tried: under a run that
// allocates as fast as it can, runtime.GC takes seconds, while the heap
// grows by gigabytes. The heap is the process's: a run is also stopped when
// the rest of the server grows its live heap by a budget while the run is
// active, and runs at the same time share what they see. Both err on the
// safe side.

// sampleEvery is how often the watchdog looks at the heap while a run is
// active. A doubling string needs tens of milliseconds to copy 100 MB, so
// this is well inside one step.
const sampleEvery = time.Millisecond

// meter is the watchdog of one Service: it samples the Go heap while runs
// are active and stops the runs whose growth passes their budget.
type meter struct {
	budget uint64 // bytes one run may grow the heap by

	mu      sync.Mutex
	watched map[*execution]uint64 // run → the heap size that stops it
	running bool                  // the sampling goroutine is running
}

func newMeter(budget uint64) *meter {
	return &meter{budget: budget, watched: map[*execution]uint64{}}
}

// heapSample reads the heap's object bytes (live and not yet swept) and
// the size the GC lets the heap reach before it collects.
func heapSample() (objects, goal uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		objects = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		goal = s[1].Value.Uint64()
	}
	return objects, goal
}

// watch starts watching e; the returned func stops. The run's limit counts
// from the larger of the heap now and the GC's goal: garbage the rest of
// the server makes stays below the goal, so it does not count against the
// run, and what the run keeps alive does.
func (m *meter) watch(e *execution) (stop func()) {
	objects, goal := heapSample()
	m.mu.Lock()
	m.watched[e] = max(objects, goal) + m.budget
	if !m.running {
		m.running = true
		go m.sample()
	}
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.watched, e)
		m.mu.Unlock()
	}
}

// sample runs while any run is watched.
func (m *meter) sample() {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	var over []*execution
	for range t.C {
		objects, _ := heapSample()
		m.mu.Lock()
		if len(m.watched) == 0 {
			m.running = false
			m.mu.Unlock()
			return
		}
		over = over[:0]
		for e, limit := range m.watched {
			if objects > limit {
				over = append(over, e)
			}
		}
		m.mu.Unlock()
		for _, e := range over {
			e.halt(ErrMemory)
		}
	}
}

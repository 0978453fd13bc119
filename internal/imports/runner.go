package imports

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

// poll is how often an idle runner looks for imports that another
// instance accepted or left behind.
const poll = 5 * time.Second

// Runner runs stored imports in the background, one at a time per
// instance; on PostgreSQL every instance's runner takes part.
type Runner struct {
	s       *Service
	wake    chan struct{}
	onError func(error)
}

// NewRunner returns a runner for s's imports; onError hears what went wrong.
func NewRunner(s *Service, onError func(error)) *Runner {
	return &Runner{s: s, wake: make(chan struct{}, 1), onError: onError}
}

// Notify wakes the runner: an import is waiting.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends; an import it was running resumes later from its last batch.
func (r *Runner) Run(ctx context.Context) {
	for ctx.Err() == nil {
		ran, err := r.runOne(ctx)
		if err != nil && ctx.Err() == nil {
			r.onError(err)
		}
		if ran && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-time.After(poll):
		}
	}
}

// runOne runs the next pending import, turning a panic in a file reader into
// an error: one bad upload must not stop the server that reads it.
func (r *Runner) runOne(ctx context.Context) (ran bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			ran, err = false, fmt.Errorf("import job: panic: %v\n%s", v, debug.Stack())
		}
	}()
	return r.s.RunPending(ctx)
}

package actions_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/errs"
)

// FuzzBuild builds arbitrary code as an action: the build must never panic,
// never take the process down, and end within its budget (plus slack for a
// loaded machine) with the action built or a 400. Seeds are the attacks and
// testdata/fuzz/FuzzBuild.
func FuzzBuild(f *testing.F) {
	for _, a := range attacks {
		f.Add(a.code)
	}
	f.Add(workflowAction)
	f.Add("exports.onExecutePostLogin = async (e, api) => { throw { get message() { for (;;) {} } }; };")
	s := newService(f, actions.Options{Timeout: 200 * time.Millisecond, Memory: testMemory})
	const timeout = 200 * time.Millisecond
	f.Fuzz(func(t *testing.T, code string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		_, err := s.CreateAction(ctx, actions.ActionInput{Name: "fuzz", SupportedTriggers: []actions.TriggerInput{{ID: actions.PostLogin}}, Code: code})
		if elapsed := time.Since(start); elapsed > 10*timeout+5*time.Second {
			t.Fatalf("the build took %s with a %s budget", elapsed, timeout)
		}
		switch {
		case err == nil:
			// Built: the name is free again for the next input.
			list, _ := s.Actions(ctx, actions.Filter{Name: "fuzz"})
			for _, a := range list {
				s.DeleteAction(ctx, a.ID, true)
			}
		case errs.KindOf(err) == errs.KindInvalid:
		case errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("the build ran past its context: %v", err)
		default:
			t.Fatalf("the build failed with %T %v, want a 400", err, err)
		}
	})
}

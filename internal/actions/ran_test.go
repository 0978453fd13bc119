package actions_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/actions"
)

// heard is what Options.Ran heard.
type heard struct {
	mu   sync.Mutex
	runs []ran
}

type ran struct {
	trigger string
	result  actions.RunResult
	took    time.Duration
}

func (h *heard) hear(trigger string, result actions.RunResult, took time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs = append(h.runs, ran{trigger, result, took})
}

func (h *heard) results() []actions.RunResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []actions.RunResult
	for _, r := range h.runs {
		out = append(out, r.result)
	}
	slices.Sort(out)
	return out
}

func TestRanHearsEveryTriggerRunByResult(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		code string
		want actions.RunResult
	}{
		{"ok", workflowAction, actions.RunOK},
		{"denied", `exports.onExecutePostLogin = async (event, api) => { api.access.deny("no"); };`, actions.RunDenied},
		{"threw", `exports.onExecutePostLogin = async () => { throw new Error("boom"); };`, actions.RunFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &heard{}
			s := newService(t, actions.Options{Ran: h.hear})
			if _, err := s.Run(t.Context(), actions.PostLogin, loginEvent(nil)); err != nil {
				t.Fatalf("with nothing bound: %v", err)
			}
			if len(h.runs) != 0 {
				t.Fatalf("a trigger with no actions was heard of: %v", h.runs)
			}
			deployAll(t, s, []action{{name: tc.name, code: tc.code}})
			s.Run(t.Context(), actions.PostLogin, loginEvent(nil))
			if len(h.runs) != 1 || h.runs[0].trigger != actions.PostLogin || h.runs[0].result != tc.want || h.runs[0].took <= 0 {
				t.Fatalf("heard %v, want one %s run of %s", h.runs, tc.want, actions.PostLogin)
			}
		})
	}
}

// Two runs at once with one slot: one runs out of time, the other finds
// the slot taken.
func TestRanHearsTimeoutsAndBusyRuns(t *testing.T) {
	t.Parallel()
	h := &heard{}
	const limit = 500 * time.Millisecond
	s := newService(t, actions.Options{Ran: h.hear, MaxRuns: 1, QueueWait: time.Millisecond, Timeout: limit})
	deployAll(t, s, []action{{name: "hangs", code: `exports.onExecutePostLogin = () => { for (;;) {} };`}})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { s.Run(t.Context(), actions.PostLogin, loginEvent(nil)) })
	}
	wg.Wait()
	if got := h.results(); !slices.Equal(got, []actions.RunResult{actions.RunBusy, actions.RunTimeout}) {
		t.Fatalf("heard %v, want one busy and one timeout", got)
	}
	for _, r := range h.runs {
		if r.result == actions.RunTimeout && r.took < limit {
			t.Fatalf("the run that timed out took %v, less than its limit %v", r.took, limit)
		}
	}
}

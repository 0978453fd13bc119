package imports_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/imports"
	"github.com/usherid/usher/internal/mail/mailtest"
	"github.com/usherid/usher/internal/store"
)

// pausing is an instance that stops before its nth transaction until told
// to go on: a garbage-collection pause or a network stall in the middle of
// an import.
type pausing struct {
	*store.DB
	n              int32
	calls          atomic.Int32
	paused, resume chan struct{}
}

func (p *pausing) Atomic(ctx context.Context, fn func(identity.Store) error) error {
	if p.calls.Add(1) == p.n {
		close(p.paused)
		<-p.resume
	}
	return p.DB.Atomic(ctx, fn)
}

// twoInstances is a tenant with a CSV of rows users uploaded as a pending
// import, and two import services on its database: the first pauses
// before its transaction number pauseAt.
func twoInstances(t *testing.T, rows int, pauseAt int32, lease time.Duration, clk *mailtest.Clock) (first, second *imports.Service, paused *pausing, job identity.Job) {
	t.Helper()
	db, ids, conn := bootstrapped(t)
	var csv strings.Builder
	csv.WriteString("email\n")
	for i := range rows {
		fmt.Fprintf(&csv, "person%05d@example.com\n", i)
	}
	paused = &pausing{DB: db, n: pauseAt, paused: make(chan struct{}), resume: make(chan struct{})}
	o := imports.Options{Now: clk.Now, Lease: lease}
	first, second = imports.NewService(paused, ids, o), imports.NewService(db, ids, o)
	job, err := second.Start(t.Context(), "", form([2]string{"connection_id", conn}, [2]string{"format", "csv"}, [2]string{"users", csv.String()}))
	if err != nil {
		t.Fatal(err)
	}
	return first, second, paused, job
}

// TestLeaseTakenOverWhileTheOwnerRuns: an instance stalls after its first
// batch of an import for longer than its lease; another instance resumes
// the job and finishes it; when the first wakes up, its next batch is
// refused and it stops. Every row lands once, none is reported as a
// duplicate of itself, and the summary counts each row once.
func TestLeaseTakenOverWhileTheOwnerRuns(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := mailtest.NewClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	const rows = 7000 // three batches
	first, second, paused, job := twoInstances(t, rows, 2, time.Minute, clk)

	firstDone := make(chan error, 1)
	go func() {
		_, err := first.RunPending(ctx)
		firstDone <- err
	}()
	<-paused.paused // one batch committed, the next one ready
	clk.Advance(2 * time.Minute)
	if ran, err := second.RunPending(ctx); !ran || err != nil {
		t.Fatalf("the second instance's run: %v %v", ran, err)
	}
	done, err := second.Job(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	close(paused.resume)
	if err := <-firstDone; !errors.Is(err, errs.ErrLeaseLost) {
		t.Fatalf("the first instance went on after losing its lease: %v", err)
	}

	after, err := second.Job(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := identity.JobSummary{Total: rows, Inserted: rows}
	if after.Status != identity.JobCompleted || after.Summary != want || after.RowsDone != rows {
		t.Fatalf("job %s %+v after %d rows, want completed %+v", after.Status, after.Summary, after.RowsDone, want)
	}
	if after.UpdatedAt != done.UpdatedAt || after.Summary != done.Summary {
		t.Fatalf("the first instance wrote after the second finished: %+v, then %+v", done, after)
	}
	if failed, err := paused.JobErrors(ctx, job.ID, 0); err != nil || len(failed) != 0 {
		t.Fatalf("failed rows: %v %v", failed, err)
	}
	if _, n, err := paused.Users(ctx, identity.UserQuery{PerPage: 1, IncludeTotals: true}); err != nil || n != rows {
		t.Fatalf("%d users, want %d: %v", n, rows, err)
	}
}

// TestLongBatchKeepsItsLease: an instance stalled for three times its
// lease keeps the job, since it renews the lease while it works; another
// instance finds nothing to run, and the first finishes the import.
func TestLongBatchKeepsItsLease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := mailtest.NewRunningClock()
	const lease = 300 * time.Millisecond
	first, second, paused, job := twoInstances(t, 10, 1, lease, clk)

	firstDone := make(chan error, 1)
	go func() {
		_, err := first.RunPending(ctx)
		firstDone <- err
	}()
	<-paused.paused
	for deadline := time.Now().Add(3 * lease); time.Now().Before(deadline); time.Sleep(lease / 10) {
		if ran, err := second.RunPending(ctx); ran || err != nil {
			t.Fatalf("the second instance took a job whose holder was alive: %v %v", ran, err)
		}
	}
	close(paused.resume)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if j, err := second.Job(ctx, job.ID); err != nil || j.Status != identity.JobCompleted || j.Summary.Inserted != 10 {
		t.Fatalf("job %+v %v", j, err)
	}
}

// TestStoppedRunLetsGo: an instance that stops in the middle of an import
// writes the batch under way, then lets go of its lease, so another
// resumes it at once rather than a lease later.
func TestStoppedRunLetsGo(t *testing.T) {
	t.Parallel()
	clk := mailtest.NewClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	const rows = 7000
	first, second, paused, job := twoInstances(t, rows, 2, time.Hour, clk)

	ctx, stop := context.WithCancel(t.Context())
	firstDone := make(chan error, 1)
	go func() {
		_, err := first.RunPending(ctx)
		firstDone <- err
	}()
	<-paused.paused // the second batch is on its way to the database
	stop()          // SIGTERM
	close(paused.resume)
	if err := <-firstDone; err != nil {
		t.Fatalf("a stopped run: %v", err)
	}
	if j, err := second.Job(t.Context(), job.ID); err != nil || j.RowsDone != 6000 {
		t.Fatalf("the stopped run's batch under way: %d rows done, %v; want it written whole (6000)", j.RowsDone, err)
	}
	if ran, err := second.RunPending(t.Context()); !ran || err != nil {
		t.Fatalf("the second instance's run, at once: %v %v", ran, err)
	}
	if j, err := second.Job(t.Context(), job.ID); err != nil || j.Status != identity.JobCompleted || j.Summary.Inserted != rows || j.Summary.Total != rows {
		t.Fatalf("job %+v %v", j, err)
	}
}

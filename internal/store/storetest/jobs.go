package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/imports"
	"github.com/usherid/usher/internal/outbox"
)

func newJob(id string, created time.Time) identity.Job {
	return identity.Job{ID: id, Type: identity.JobUsersImport, Status: identity.JobPending, ConnectionID: "con_x", Connection: "X",
		ExternalID: "crm", IdempotencyKey: "key-" + id, StoredFile: true, FileBytes: 1234,
		Options:   identity.ImportOptions{Format: "csv", Upsert: true, Invite: true, ResultURL: "https://app.example.com", TTLSec: 60},
		CreatedAt: created, UpdatedAt: created}
}

func testJobs(t *testing.T, f *fixture) {
	want := newJob("job_1", at(0))
	if err := f.db.CreateJob(f.ctx, want); err != nil {
		t.Fatal(err)
	}
	want.CreatedAt, want.UpdatedAt = ms(want.CreatedAt), ms(want.UpdatedAt)
	if got, err := f.db.Job(f.ctx, "job_1"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Job: %+v %v, want %+v", got, err, want)
	}
	// Progress, summary, lease and the end all round-trip.
	want.RowsDone, want.BytesDone, want.Status, want.StatusDetails = 7, 99, identity.JobFailed, "broken at line 8"
	want.Summary = identity.JobSummary{Total: 7, Inserted: 3, Updated: 1, Failed: 1, Skipped: 1, Invited: 1}
	want.LeaseUntil, want.UpdatedAt = at(5000), at(10)
	if err := f.db.SaveJob(f.ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := f.db.JobByIdempotencyKey(f.ctx, "key-job_1"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("JobByIdempotencyKey: %+v %v, want %+v", got, err, want)
	}
	dup := newJob("job_2", at(0))
	dup.IdempotencyKey = "key-job_1"
	wantIs(t, "second job with one key", f.db.CreateJob(f.ctx, dup), errs.ErrDuplicate)
	wantIs(t, "missing job", func() error { _, err := f.db.Job(f.ctx, "job_none"); return err }(), errs.ErrNotFound)
	wantIs(t, "save missing job", f.db.SaveJob(f.ctx, newJob("job_none", at(0))), errs.ErrNotFound)

	// The file, chunk by chunk, bytes as given.
	for seq, data := range [][]byte{{0, 1, 2, 255}, []byte("second")} {
		if err := f.db.PutJobChunk(f.ctx, "job_1", seq, data); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := f.db.JobChunk(f.ctx, "job_1", 0); err != nil || !reflect.DeepEqual(got, []byte{0, 1, 2, 255}) {
		t.Fatalf("chunk 0: %v %v", got, err)
	}
	wantIs(t, "chunk past the end", func() error { _, err := f.db.JobChunk(f.ctx, "job_1", 2); return err }(), errs.ErrNotFound)

	// Errors come back in row order, whatever order they went in.
	jobErrs := []identity.JobError{
		{Line: 9, Row: 8, User: json.RawMessage(`{"email":"x"}`), Errors: []identity.FieldError{{Code: "FORMAT", Message: "bad", Path: "email"}}},
		{Line: 3, Row: 2, User: json.RawMessage(`{}`), Errors: []identity.FieldError{{Code: "OBJECT_REQUIRED", Message: "missing"}}},
	}
	if err := f.db.AddJobErrors(f.ctx, "job_1", jobErrs); err != nil {
		t.Fatal(err)
	}
	if got, err := f.db.JobErrors(f.ctx, "job_1", 0); err != nil || !reflect.DeepEqual(got, []identity.JobError{jobErrs[1], jobErrs[0]}) {
		t.Fatalf("JobErrors: %+v %v", got, err)
	}
	if got, err := f.db.JobErrors(f.ctx, "job_1", 1); err != nil || !reflect.DeepEqual(got, []identity.JobError{jobErrs[1]}) {
		t.Fatalf("first JobError: %+v %v", got, err)
	}
	if got, err := f.db.JobErrors(f.ctx, "job_none", 0); err != nil || len(got) != 0 {
		t.Fatalf("errors of no job: %v %v", got, err)
	}
	if err := f.db.DeleteJobChunks(f.ctx, "job_1"); err != nil {
		t.Fatal(err)
	}
	wantIs(t, "chunk after DeleteJobChunks", func() error { _, err := f.db.JobChunk(f.ctx, "job_1", 0); return err }(), errs.ErrNotFound)
	if err := f.db.DeleteJob(f.ctx, "job_1"); err != nil {
		t.Fatal(err)
	}
	wantIs(t, "deleted job", func() error { _, err := f.db.Job(f.ctx, "job_1"); return err }(), errs.ErrNotFound)
	if got, _ := f.db.JobErrors(f.ctx, "job_1", 0); len(got) != 0 {
		t.Fatalf("errors outlived their job: %v", got)
	}
}

// testClaimJob: of eight instances asking at once, one gets the job; a
// lease that ran out lets another take it; unfinished uploads, jobs whose
// file is not stored and ended jobs are never claimed.
func testClaimJob(t *testing.T, f *fixture) {
	for id, edit := range map[string]func(*identity.Job){
		"job_uploading": func(j *identity.Job) { j.Status = identity.JobUploading },
		"job_cli":       func(j *identity.Job) { j.StoredFile = false },
		"job_done":      func(j *identity.Job) { j.Status = identity.JobCompleted },
	} {
		j := newJob(id, at(0))
		edit(&j)
		if err := f.db.CreateJob(f.ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	wantIs(t, "claim with nothing runnable", func() error { _, err := f.db.ClaimJob(f.ctx, at(100), at(1100), "c1"); return err }(), errs.ErrNotFound)
	if err := f.db.CreateJob(f.ctx, newJob("job_run", at(50))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	won := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			if j, err := f.db.ClaimJob(f.ctx, at(100), at(1100), "c1"); err == nil {
				won <- j.ID
			} else if !errors.Is(err, errs.ErrNotFound) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(won)
	if got := fmt.Sprint(chanList(won)); got != "[job_run]" {
		t.Fatalf("claimed %s, want job_run once", got)
	}
	// An upload that never became a job goes once it is old; a young one stays.
	for id, created := range map[string]time.Time{"job_old_upload": at(0), "job_young_upload": at(900)} {
		j := newJob(id, created)
		j.Status, j.IdempotencyKey = identity.JobUploading, ""
		if err := f.db.CreateJob(f.ctx, j); err != nil {
			t.Fatal(err)
		}
		f.db.PutJobChunk(f.ctx, id, 0, []byte("[]"))
	}
	if err := f.db.DeleteStaleUploads(f.ctx, at(500)); err != nil {
		t.Fatal(err)
	}
	wantIs(t, "old upload", func() error { _, err := f.db.Job(f.ctx, "job_old_upload"); return err }(), errs.ErrNotFound)
	wantIs(t, "old upload's chunk", func() error { _, err := f.db.JobChunk(f.ctx, "job_old_upload", 0); return err }(), errs.ErrNotFound)
	if _, err := f.db.JobChunk(f.ctx, "job_young_upload", 0); err != nil {
		t.Fatalf("a young upload lost its chunk: %v", err)
	}
	if _, err := f.db.Job(f.ctx, "job_run"); err != nil {
		t.Fatalf("a running job went with the uploads: %v", err)
	}
	wantIs(t, "claim within the lease", func() error { _, err := f.db.ClaimJob(f.ctx, at(1000), at(2000), "c2"); return err }(), errs.ErrNotFound)
	if j, err := f.db.ClaimJob(f.ctx, at(1200), at(2200), "c3"); err != nil || j.ID != "job_run" || !j.LeaseUntil.Equal(at(2200)) || j.Claim != "c3" {
		t.Fatalf("claim after the lease ran out: %+v %v", j, err)
	}
}

// testJobLeaseFencing: once another instance has taken a job whose lease
// lapsed, the first holder's writes of it are refused, whether a batch's
// save or a renewal; a lease let go is taken at once.
func testJobLeaseFencing(t *testing.T, f *fixture) {
	if err := f.db.CreateJob(f.ctx, newJob("job_f", at(0))); err != nil {
		t.Fatal(err)
	}
	first, err := f.db.ClaimJob(f.ctx, at(100), at(1100), "first")
	if err != nil {
		t.Fatal(err)
	}
	first.RowsDone = 3000
	if err := f.db.SaveJob(f.ctx, first); err != nil {
		t.Fatalf("the holder's save: %v", err)
	}
	if err := f.db.LeaseJob(f.ctx, "job_f", "first", at(1500)); err != nil {
		t.Fatalf("the holder's renewal: %v", err)
	}
	wantIs(t, "take within the lease", func() error { _, err := f.db.TakeJob(f.ctx, "job_f", at(1400), at(2400), "second"); return err }(), errs.ErrNotFound)
	second, err := f.db.TakeJob(f.ctx, "job_f", at(1600), at(2600), "second")
	if err != nil || second.RowsDone != 3000 || second.Claim != "second" {
		t.Fatalf("take after the lease lapsed: %+v %v", second, err)
	}
	// The first holder wakes up and goes on as if it still held the job.
	first.RowsDone = 6000
	wantIs(t, "the first holder's save", f.db.SaveJob(f.ctx, first), errs.ErrLeaseLost)
	wantIs(t, "the first holder's renewal", f.db.LeaseJob(f.ctx, "job_f", "first", at(3000)), errs.ErrLeaseLost)
	wantIs(t, "the first holder's release", f.db.LeaseJob(f.ctx, "job_f", "first", time.Time{}), errs.ErrLeaseLost)
	if got, _ := f.db.Job(f.ctx, "job_f"); got.RowsDone != 3000 || got.Claim != "second" || !got.LeaseUntil.Equal(at(2600)) {
		t.Fatalf("after the refused writes: %+v", got)
	}
	wantIs(t, "renew a missing job", f.db.LeaseJob(f.ctx, "job_none", "second", at(3000)), errs.ErrNotFound)

	// Let go (a stopping instance): another takes it before the lease's end.
	if err := f.db.LeaseJob(f.ctx, "job_f", "second", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if third, err := f.db.ClaimJob(f.ctx, at(1700), at(2700), "third"); err != nil || third.ID != "job_f" {
		t.Fatalf("claim of a job let go: %+v %v", third, err)
	}
}

func chanList(c chan string) []string {
	var out []string
	for s := range c {
		out = append(out, s)
	}
	return out
}

// testInsertBulk writes a batch of invited users in one go and reads every
// part back; a batch that clashes lands nothing.
func testInsertBulk(t *testing.T, f *fixture) {
	c := f.conn("Bulk", at(0))
	var b identity.BulkInsert
	for i := range 250 {
		u := newUser(c, fmt.Sprintf("bulk%03d@example.com", i), at(i))
		u.AppMetadata = map[string]any{"needsInvitation": true}
		b.Users = append(b.Users, u)
		tk := newTicket(fmt.Sprintf("tk-%03d", i), identity.TicketPasswordChange, u.ID, at(i), time.Hour)
		b.Tickets = append(b.Tickets, tk)
		m := outbox.Mail{ID: fmt.Sprintf("mail-%03d", i), MessageID: fmt.Sprintf("m%03d@x", i), Template: "reset_email", UserID: u.ID,
			To: u.Email, From: "a@b.c", Subject: "Hi", HTML: "<p>Hi</p>", Text: "Hi", CreatedAt: at(i)}
		b.Mails = append(b.Mails, m)
		b.Invitations = append(b.Invitations, identity.Invitation{ID: fmt.Sprintf("inv-%03d", i), UserID: u.ID, Email: u.Email,
			ConnectionID: c.ID, TTL: time.Hour, TicketID: tk.ID, CreatedAt: at(i), ExpiresAt: at(i).Add(time.Hour),
			Events: []identity.InvitationEvent{{At: at(i), Type: "created"}, {At: at(i), Type: "sent", MailID: m.ID}}})
	}
	if err := f.db.Atomic(f.ctx, func(st identity.Store) error { return st.(imports.Tx).InsertBulk(f.ctx, b) }); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 99, 100, 249} {
		got, err := f.db.User(f.ctx, b.Users[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		wantUser(t, got, b.Users[i])
		inv, err := f.db.Invitation(f.ctx, b.Invitations[i].ID)
		if err != nil || inv.TicketID != b.Tickets[i].ID || len(inv.Events) != 2 || inv.Events[1].MailID != b.Mails[i].ID || inv.Events[1].MailStatus != outbox.Queued {
			t.Fatalf("invitation %d: %+v %v", i, inv, err)
		}
		if tk, err := f.db.Ticket(f.ctx, b.Tickets[i].ID); err != nil || tk.UserID != b.Users[i].ID {
			t.Fatalf("ticket %d: %+v %v", i, tk, err)
		}
		if m, err := f.db.Mail(f.ctx, b.Mails[i].ID); err != nil || m.To != b.Users[i].Email || m.Status != outbox.Queued {
			t.Fatalf("mail %d: %+v %v", i, m, err)
		}
	}
	// One clash among new rows: the whole batch stays out.
	clash := identity.BulkInsert{Users: []identity.User{newUser(c, "fresh@example.com", at(0)), newUser(c, "bulk007@example.com", at(0))}}
	err := f.db.Atomic(f.ctx, func(st identity.Store) error { return st.(imports.Tx).InsertBulk(f.ctx, clash) })
	wantIs(t, "bulk insert of a taken email", err, errs.ErrDuplicate)
	if found, _ := f.db.UsersByEmails(f.ctx, c.ID, []string{"fresh@example.com"}); len(found) != 0 {
		t.Fatal("a failed batch left a user behind")
	}
}

// testUsersByEmails finds users of one connection among many emails.
func testUsersByEmails(t *testing.T, f *fixture) {
	a, other := f.conn("A", at(0)), f.conn("B", at(0))
	var emails []string
	for i := range 700 { // more than one query's worth
		emails = append(emails, fmt.Sprintf("u%03d@example.com", i))
	}
	for _, i := range []int{0, 499, 500, 699} {
		f.user(a, emails[i], at(i), nil)
	}
	f.user(other, emails[1], at(0), nil)
	found, err := f.db.UsersByEmails(f.ctx, a.ID, emails)
	if err != nil || len(found) != 4 {
		t.Fatalf("UsersByEmails: %d found, %v", len(found), err)
	}
	for _, i := range []int{0, 499, 500, 699} {
		if found[emails[i]].ConnectionID != a.ID {
			t.Fatalf("%s: %+v", emails[i], found[emails[i]])
		}
	}
}

// testJobList: the newest imports first, at most the limit; uploads still
// arriving and jobs of another type are left out.
func testJobList(t *testing.T, f *fixture) {
	if got, err := f.db.Jobs(f.ctx, identity.JobUsersImport, 10); err != nil || len(got) != 0 {
		t.Fatalf("Jobs of an empty store: %v %v", got, err)
	}
	for i, edit := range []func(*identity.Job){
		func(j *identity.Job) {},
		func(j *identity.Job) { j.Status = identity.JobCompleted },
		func(j *identity.Job) { j.Status = identity.JobUploading },
		func(j *identity.Job) { j.Type = identity.JobVerificationEmail },
		func(j *identity.Job) { j.Status = identity.JobFailed },
		func(j *identity.Job) { j.StoredFile = false }, // the command line's
	} {
		j := newJob(fmt.Sprintf("job_%d", i), at(i*10))
		edit(&j)
		if err := f.db.CreateJob(f.ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	// Two made in the same millisecond come in a stable order.
	if err := f.db.CreateJob(f.ctx, newJob("job_6", at(50))); err != nil {
		t.Fatal(err)
	}
	jobIDs := func(js []identity.Job) string {
		var out []string
		for _, j := range js {
			out = append(out, j.ID)
		}
		return fmt.Sprint(out)
	}
	got, err := f.db.Jobs(f.ctx, identity.JobUsersImport, 10)
	if err != nil || jobIDs(got) != "[job_6 job_5 job_4 job_1 job_0]" {
		t.Fatalf("Jobs: %s %v, want [job_6 job_5 job_4 job_1 job_0]", jobIDs(got), err)
	}
	want := newJob("job_4", at(40))
	want.Status, want.CreatedAt, want.UpdatedAt = identity.JobFailed, ms(want.CreatedAt), ms(want.UpdatedAt)
	if !reflect.DeepEqual(got[2], want) {
		t.Fatalf("listed job: %+v, want %+v", got[2], want)
	}
	if got, err := f.db.Jobs(f.ctx, identity.JobUsersImport, 2); err != nil || jobIDs(got) != "[job_6 job_5]" {
		t.Fatalf("Jobs limited to 2: %s %v", jobIDs(got), err)
	}
	if got, err := f.db.Jobs(f.ctx, identity.JobVerificationEmail, 10); err != nil || jobIDs(got) != "[job_3]" {
		t.Fatalf("verification jobs: %s %v", jobIDs(got), err)
	}
}

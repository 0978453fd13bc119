package imports

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// batchRows is how many rows land per transaction: large enough that a
// transaction's cost is spread thin, small enough that a resumed import
// repeats little and a batch's mails fit in memory.
const batchRows = 3000

// staleUpload is how long an upload may take before its chunks are taken
// for the leftovers of a server that stopped while receiving it.
const staleUpload = 6 * time.Hour

// Progress hears how a running import goes: the job after each batch,
// with the rows that batch could not take.
type Progress func(job identity.Job, failed []identity.JobError)

// RunFile imports a users file read here (the command line's import) as
// r describes. The job is stored, so a run stopped half way resumes where
// it stopped when started again with the same idempotency key. A dry run
// stores nothing and reports the rows through progress.
func (s *Service) RunFile(ctx context.Context, r Request, file io.Reader, size int64, progress Progress) (identity.Job, error) {
	job, err := s.jobFor(ctx, r)
	if err != nil {
		return identity.Job{}, err
	}
	job.FileBytes = size
	if r.Options.DryRun {
		return s.run(ctx, job, file, false, progress)
	}
	var prev identity.Job
	err = errs.ErrNotFound
	if r.IdempotencyKey != "" {
		prev, err = s.store.JobByIdempotencyKey(ctx, r.IdempotencyKey)
	}
	running := errs.Conflict("import_running", "This import is running elsewhere.")
	now, claim := s.now().UTC(), rand.Text()
	switch {
	case err == nil && prev.Done():
		return prev, nil
	case err == nil: // resume, unless someone is running it
		if job, err = s.store.TakeJob(ctx, prev.ID, now, now.Add(s.lease), claim); errors.Is(err, errs.ErrNotFound) {
			return identity.Job{}, running
		} else if err != nil {
			return identity.Job{}, err
		}
	case !errors.Is(err, errs.ErrNotFound):
		return identity.Job{}, err
	default:
		job.Claim, job.LeaseUntil = claim, now.Add(s.lease)
		if err := s.store.CreateJob(ctx, job); errors.Is(err, errs.ErrDuplicate) {
			return identity.Job{}, running
		} else if err != nil {
			return identity.Job{}, err
		}
	}
	return s.run(ctx, job, file, true, progress)
}

// RunPending claims one stored import that nobody is running (new, or left
// behind by an instance that stopped) and runs it to the end. It reports
// false when there was none.
func (s *Service) RunPending(ctx context.Context) (bool, error) {
	now := s.now().UTC()
	if err := s.store.DeleteStaleUploads(ctx, now.Add(-staleUpload)); err != nil {
		return false, err
	}
	job, err := s.store.ClaimJob(ctx, now, now.Add(s.lease), rand.Text())
	if errors.Is(err, errs.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	_, err = s.run(ctx, job, &chunkReader{ctx: ctx, st: s.store, job: job.ID}, true, nil)
	if err == nil || ctx.Err() != nil {
		return true, nil // the outcome is in the job; a stopped run resumes elsewhere
	}
	return true, err
}

// hold keeps job's lease while the import runs, renewing it three times
// per lease, until the returned stop is called. When a renewal finds the
// lease taken by another instance, the returned context ends with
// errs.ErrLeaseLost as its cause, which stops the run; the batch writes are
// fenced too, so a run that misses the renewal still cannot commit.
func (s *Service) hold(ctx context.Context, job identity.Job) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var renewer sync.WaitGroup
	renewer.Go(func() {
		tick := time.NewTicker(s.lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// Any other error is retried at the next tick: a lease outlives two
			// failed renewals, and every batch renews it as well.
			if err := s.store.LeaseJob(ctx, job.ID, job.Claim, s.now().UTC().Add(s.lease)); errors.Is(err, errs.ErrLeaseLost) {
				cancel(err)
				return
			}
		}
	})
	return ctx, func() {
		close(done)
		renewer.Wait()
		cancel(nil)
	}
}

// chunkReader reads a stored users file.
type chunkReader struct {
	ctx  context.Context
	st   Store
	job  string
	seq  int
	left []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.left) == 0 {
		b, err := c.st.JobChunk(c.ctx, c.job, c.seq)
		if errors.Is(err, errs.ErrNotFound) {
			return 0, io.EOF
		} else if err != nil {
			return 0, err
		}
		c.left, c.seq = b, c.seq+1
	}
	n := copy(p, c.left)
	c.left = c.left[n:]
	return n, nil
}

// run reads file and imports its rows from where job stopped. The
// returned error is for the caller; the job records the same outcome.
func (s *Service) run(ctx context.Context, job identity.Job, file io.Reader, persist bool, progress Progress) (identity.Job, error) {
	p := &pass{s: s, job: job, seen: map[string]int64{}, persist: persist, opts: job.Options, skip: job.RowsDone, progress: progress}
	work, stop := ctx, func() {}
	if persist {
		work, stop = s.hold(ctx, job)
	}
	err := p.all(work, file)
	stop()
	switch {
	case errors.Is(context.Cause(work), errs.ErrLeaseLost) || errors.Is(err, errs.ErrLeaseLost):
		// Another instance has the job; what this run did not commit is its.
		return p.job, fmt.Errorf("import %s: %w", job.ID, errs.ErrLeaseLost)
	case ctx.Err() != nil:
		// Stopped: the job resumes where it is, at once on another instance.
		if persist {
			err = s.store.LeaseJob(context.WithoutCancel(ctx), job.ID, job.Claim, time.Time{})
		}
		return p.job, errors.Join(ctx.Err(), err)
	}
	return p.end(ctx, err)
}

// all imports the file's rows into the job's connection.
func (p *pass) all(ctx context.Context, file io.Reader) error {
	conn, err := p.s.store.Connection(ctx, p.job.ConnectionID)
	if err != nil {
		return err
	}
	p.conn = conn
	rows, err := NewRowReader(file, p.opts.Format)
	if err != nil {
		return err
	}
	return p.rows(ctx, rows)
}

// pass is one pass over a users file for a job.
type pass struct {
	s        *Service
	job      identity.Job
	conn     identity.Connection
	seen     map[string]int64 // email → line of its first row
	persist  bool             // the job is stored; dry runs from the command line are not
	opts     identity.ImportOptions
	skip     int64 // rows an earlier run did
	progress Progress
}

// rows imports every row of the file, batch by batch: one goroutine reads,
// checks and renders the next batch while this one writes the last.
func (p *pass) rows(ctx context.Context, rows *RowReader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *batch, 1)
	var readErr error
	go func() {
		defer close(batches)
		readErr = p.read(ctx, rows, batches)
	}()
	var err error
	for b := range batches {
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			// A batch under way is written whole even when the run is being
			// stopped (the server's shutdown waits for it): the next run
			// starts right after it. A lease lost meanwhile still refuses it.
			err = p.commit(context.WithoutCancel(ctx), b)
		}
		if err != nil {
			cancel() // stop the reader; drain what it sent
		}
	}
	if err != nil {
		return err
	}
	return readErr
}

// batch is up to batchRows rows, checked and ready to write.
type batch struct {
	first, count, offset int64
	valid                []pendingUser
	failed               []identity.JobError // rows broken in themselves
	plan                 batchPlan
}

// batchPlan is what a batch writes.
type batchPlan struct {
	bulk    identity.BulkInsert
	updates []identity.User
	failed  []identity.JobError // rows that clash with existing users
	delta   identity.JobSummary
}

// read prepares the file's batches, skipping the rows an earlier run did.
func (p *pass) read(ctx context.Context, rows *RowReader, out chan<- *batch) error {
	var index int64
	for {
		next := make([]Row, 0, batchRows)
		first := index + 1
		var ferr error
		for len(next) < batchRows {
			row, err := rows.Next()
			if err != nil {
				ferr = err
				break
			}
			index++
			if index <= p.skip {
				// Done by an earlier run: only remember its email, so a
				// later duplicate of it is still caught.
				if rec, problems := decodeRecord(row.Raw); len(problems) == 0 {
					email, _ := identity.NormalizeEmail(rec.Email)
					if _, dup := p.seen[email]; !dup {
						p.seen[email] = row.Line
					}
				}
				first = index + 1
				continue
			}
			next = append(next, row)
		}
		if len(next) > 0 {
			b, err := p.prepare(ctx, first, next, rows.Offset())
			if err != nil {
				return err
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if ferr == io.EOF {
			return nil
		} else if ferr != nil {
			return ferr
		}
	}
}

// pendingUser is a row on its way in.
type pendingUser struct {
	row   Row
	index int64
	rec   record
	user  identity.User
}

// prepare checks each row of a batch (the first being row number first) and
// plans what the batch writes.
func (p *pass) prepare(ctx context.Context, first int64, rows []Row, offset int64) (*batch, error) {
	b := &batch{first: first, count: int64(len(rows)), offset: offset}
	fail := func(u pendingUser, problems ...identity.FieldError) {
		b.failed = append(b.failed, identity.JobError{Line: u.row.Line, Row: u.index, User: u.row.Raw, Errors: problems})
	}
	for i, row := range rows {
		pu := pendingUser{row: row, index: first + int64(i)}
		rec, problems := decodeRecord(row.Raw)
		if len(problems) > 0 {
			fail(pu, problems...)
			continue
		}
		u, _, err := p.s.ids.PrepareUser(ctx, rec.newUser(p.conn.Name))
		var de *errs.Error
		if errors.As(err, &de) {
			fail(pu, identity.FieldError{Code: "FORMAT", Message: de.Message})
			continue
		} else if err != nil {
			return nil, err
		}
		if line, dup := p.seen[u.Email]; dup {
			fail(pu, identity.FieldError{Code: "DUPLICATED_USER", Message: fmt.Sprintf("The user already exists in this file (line %d)", line), Path: "email"})
			continue
		}
		p.seen[u.Email] = row.Line
		u.PasswordHash = rec.passwordHash()
		pu.rec, pu.user = rec, u
		b.valid = append(b.valid, pu)
	}
	var err error
	b.plan, err = p.plan(ctx, b.valid)
	return b, err
}

// plan sorts valid rows into new, updated and skipped users, with the
// invitations (links and rendered mails) they get.
func (p *pass) plan(ctx context.Context, valid []pendingUser) (batchPlan, error) {
	s, opts := p.s, p.opts
	var bp batchPlan
	emails := make([]string, len(valid))
	for i, v := range valid {
		emails[i] = v.user.Email
	}
	existing, err := s.store.UsersByEmails(ctx, p.conn.ID, emails)
	if err != nil {
		return bp, err
	}
	now := s.now().UTC()
	for _, v := range valid {
		u, invite := v.user, opts.Invite && v.user.PasswordHash == ""
		cur, exists := existing[u.Email]
		switch {
		case !exists:
			bp.delta.Inserted++
		case opts.Upsert:
			u, invite = upsert(cur, v, now), invite && cur.PasswordHash == "" && !cur.NeedsInvitation()
			bp.delta.Updated++
		case opts.SkipExisting:
			bp.delta.Skipped++
			continue
		default:
			bp.failed = append(bp.failed, identity.JobError{Line: v.row.Line, Row: v.index, User: v.row.Raw,
				Errors: []identity.FieldError{{Code: "DUPLICATED_USER", Message: "The user already exists and upsert parameter is false", Path: "email"}}})
			continue
		}
		if invite {
			if u, err = s.ids.InviteInBulk(ctx, &bp.bulk, u, p.conn, opts, now); err != nil {
				return bp, err
			}
			bp.delta.Invited++
		}
		if exists {
			bp.updates = append(bp.updates, u)
		} else {
			bp.bulk.Users = append(bp.bulk.Users, u)
		}
	}
	return bp, nil
}

// commit writes a batch together with the job's progress, in one
// transaction, so that the job resumes exactly after it.
func (p *pass) commit(ctx context.Context, b *batch) error {
	for attempt := 0; ; attempt++ {
		err := p.write(ctx, b)
		if !errors.Is(err, errs.ErrDuplicate) || attempt == 2 {
			return err
		}
		// Someone else created one of these users meanwhile: plan again.
		if b.plan, err = p.plan(ctx, b.valid); err != nil {
			return err
		}
	}
}

func (p *pass) write(ctx context.Context, b *batch) error {
	s, bp := p.s, b.plan
	now := s.now().UTC()
	failed := append(append([]identity.JobError(nil), b.failed...), bp.failed...)
	slices.SortFunc(failed, func(a, b identity.JobError) int { return cmp.Compare(a.Row, b.Row) })
	job := p.job
	sum := &job.Summary
	sum.Total += b.count
	sum.Inserted += bp.delta.Inserted
	sum.Updated += bp.delta.Updated
	sum.Skipped += bp.delta.Skipped
	sum.Invited += bp.delta.Invited
	sum.Failed += int64(len(failed))
	job.RowsDone, job.BytesDone, job.UpdatedAt, job.LeaseUntil = b.first+b.count-1, b.offset, now, now.Add(s.lease)
	if p.opts.DryRun {
		// Nothing lands but the report; its counts say what would have.
		bp.bulk, bp.updates = identity.BulkInsert{}, nil
	}
	if p.persist {
		err := s.atomic(ctx, func(tx Tx) error {
			// The job first: a run whose lease was taken stops here, and on
			// PostgreSQL the job's row stays locked until the batch commits.
			if err := tx.SaveJob(ctx, job); err != nil {
				return err
			}
			if err := tx.InsertBulk(ctx, bp.bulk); err != nil {
				return err
			}
			for _, u := range bp.updates {
				if err := tx.UpdateUser(ctx, u); err != nil {
					return err
				}
				if u.NeedsInvitation() {
					if err := tx.RevokeTickets(ctx, u.ID, identity.TicketPasswordChange, now); err != nil {
						return err
					}
				}
			}
			return tx.AddJobErrors(ctx, job.ID, failed)
		})
		if err != nil {
			return err
		}
		if !p.opts.DryRun {
			s.written(identity.JobSummary{Total: b.count, Inserted: bp.delta.Inserted, Updated: bp.delta.Updated,
				Skipped: bp.delta.Skipped, Invited: bp.delta.Invited, Failed: int64(len(failed))})
		}
	}
	if len(bp.bulk.Mails) > 0 {
		s.mailQueued()
	}
	p.job = job
	if p.progress != nil {
		p.progress(job, failed)
	}
	return nil
}

// upsert applies a row to the user it matched, as Auth0's upsert does: the
// fields the row sets replace the user's, metadata whole.
func upsert(cur identity.User, pu pendingUser, now time.Time) identity.User {
	var given map[string]json.RawMessage
	json.Unmarshal(pu.row.Raw, &given) // it decoded as a record already
	set := func(k string) bool { _, ok := given[k]; return ok }
	u, r, prof := cur, pu.rec, pu.user.Profile
	if set("email_verified") {
		u.EmailVerified = r.EmailVerified
	}
	if set("blocked") {
		u.Blocked = r.Blocked
	}
	if set("given_name") {
		u.Profile.GivenName = prof.GivenName
	}
	if set("family_name") {
		u.Profile.FamilyName = prof.FamilyName
	}
	if set("name") {
		u.Profile.Name = prof.Name
	}
	if set("nickname") {
		u.Profile.Nickname = prof.Nickname
	}
	if set("picture") {
		u.Profile.Picture = prof.Picture
	}
	if set("app_metadata") {
		// The row's metadata, never nil: the prepared user's.
		u.AppMetadata = pu.user.AppMetadata
		if cur.NeedsInvitation() {
			u.AppMetadata["needsInvitation"] = true
		}
	}
	if set("user_metadata") {
		u.UserMetadata = pu.user.UserMetadata
	}
	if h := r.passwordHash(); h != "" && h != cur.PasswordHash {
		// A new password: logins made with the old one are refused (their
		// stamp no longer matches), as after any password change.
		u.PasswordHash, u.LastPasswordReset = h, now
	}
	u.UpdatedAt = now
	return u
}

// end records how the job ended and logs it in the tenant log.
func (p *pass) end(ctx context.Context, err error) (identity.Job, error) {
	s, job := p.s, p.job
	now := s.now().UTC()
	job.Status, job.UpdatedAt, job.LeaseUntil = identity.JobCompleted, now, time.Time{}
	job.BytesDone = job.FileBytes
	var de *errs.Error
	switch {
	case errors.As(err, &de):
		job.Status, job.StatusDetails = identity.JobFailed, de.Message
	case err != nil:
		job.Status, job.StatusDetails = identity.JobFailed, "The import stopped: "+err.Error()
	}
	p.job = job
	if !p.persist {
		return job, err
	}
	sum := job.Summary
	e := identity.LogEvent{ID: identity.NewLogID(now), Date: now, Type: "sui", Connection: job.Connection,
		Details:     map[string]any{"job_id": job.ID, "connection_id": job.ConnectionID},
		Description: fmt.Sprintf("Users import %s: %d rows, %d inserted, %d updated, %d invited, %d skipped, %d failed", job.ID, sum.Total, sum.Inserted, sum.Updated, sum.Invited, sum.Skipped, sum.Failed)}
	if job.Status == identity.JobFailed {
		e.Type, e.Description = "fui", fmt.Sprintf("Users import %s failed: %s", job.ID, job.StatusDetails)
	}
	werr := s.atomic(context.WithoutCancel(ctx), func(tx Tx) error {
		if err := tx.SaveJob(ctx, job); err != nil {
			return err
		}
		if job.StoredFile {
			if err := tx.DeleteJobChunks(ctx, job.ID); err != nil {
				return err
			}
		}
		return tx.AddLog(ctx, e)
	})
	if p.progress != nil {
		p.progress(job, nil)
	}
	return job, errors.Join(err, werr)
}

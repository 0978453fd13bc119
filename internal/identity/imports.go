package identity

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/usherid/usher/internal/errs"
)

// importBatch is how many rows land per transaction: large enough that a
// transaction's cost is spread thin, small enough that a resumed import
// repeats little and a batch's mails fit in memory.
const importBatch = 3000

// jobLease is how long a job stays with whoever runs it without news from
// them; after that another instance may resume it.
const jobLease = time.Minute

// staleUpload is how long an upload may take before its chunks are taken
// for the leftovers of a server that stopped while receiving it.
const staleUpload = 6 * time.Hour

// ImportRequest starts a users import.
type ImportRequest struct {
	// ConnectionID, or Connection by name, is the database connection to fill.
	ConnectionID   string
	Connection     string
	ExternalID     string
	IdempotencyKey string
	Options        ImportOptions
}

// ImportProgress hears how a running import goes: the job after each batch,
// with the rows that batch could not take.
type ImportProgress func(job Job, failed []JobError)

// importRun is one pass over a users file for a job.
type importRun struct {
	s        *Service
	job      Job
	conn     Connection
	seen     map[string]int64 // email → line of its first row
	persist  bool             // the job is stored; dry runs from the command line are not
	opts     ImportOptions
	skip     int64 // rows an earlier run did
	progress ImportProgress
}

// importJobFor validates r and returns the job it describes, not yet stored.
func (s *Service) importJobFor(ctx context.Context, r ImportRequest) (Job, error) {
	var conn Connection
	var err error
	switch {
	case r.ConnectionID != "":
		conn, err = s.store.Connection(ctx, r.ConnectionID)
	case r.Connection != "":
		conn, err = s.store.ConnectionByName(ctx, r.Connection)
	default:
		return Job{}, errs.Invalid("invalid_body", "Must provide 'connection_id' as multipart part.")
	}
	if errors.Is(err, errs.ErrNotFound) {
		return Job{}, errs.Invalid("invalid_body", "The connection does not exist.")
	} else if err != nil {
		return Job{}, err
	}
	if conn.Strategy != "auth0" {
		return Job{}, errs.Invalid("invalid_body", "Connection must be a database connection.")
	}
	if len(r.ExternalID) > 255 {
		return Job{}, errs.Invalid("invalid_body", "external_id must be at most 255 characters.")
	}
	if err := CheckLinkOptions(r.Options.ResultURL, r.Options.TTLSec); err != nil {
		return Job{}, err
	}
	if r.Options.Format == "" {
		r.Options.Format = "json"
	}
	if r.Options.Format != "json" && r.Options.Format != "csv" {
		return Job{}, errs.Invalid("invalid_body", "The file format must be json or csv.")
	}
	now := s.now().UTC()
	return Job{ID: NewJobID(), Type: JobUsersImport, Status: JobPending, ConnectionID: conn.ID, Connection: conn.Name,
		ExternalID: r.ExternalID, IdempotencyKey: r.IdempotencyKey, Options: r.Options, CreatedAt: now, UpdatedAt: now}, nil
}

// fileChunk is how much of an uploaded users file one stored row holds.
const fileChunk = 1 << 20

// MaxImportBytes bounds an uploaded users file. Auth0 takes 500 KB; Usher
// streams the file into the database chunk by chunk, so the bound only
// guards the disk.
const MaxImportBytes = 1 << 30

// ImportFormat is the format of an uploaded users file: csv for a .csv file
// name or a text/csv part, else json (Auth0's bulk-import file).
func ImportFormat(fileName, contentType string) string {
	if strings.EqualFold(path.Ext(fileName), ".csv") || strings.HasPrefix(contentType, "text/csv") {
		return "csv"
	}
	return "json"
}

// UploadImport stores a users file as it arrives, chunk by chunk, for a job
// to be described by FinishImport; it returns the upload's id and size.
func (s *Service) UploadImport(ctx context.Context, file io.Reader) (string, int64, error) {
	now := s.now().UTC()
	job := Job{ID: NewJobID(), Type: JobUsersImport, Status: JobUploading, StoredFile: true, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateJob(ctx, job); err != nil {
		return "", 0, err
	}
	buf := make([]byte, fileChunk)
	var size int64
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(file, buf)
		if n > 0 {
			if perr := s.store.PutJobChunk(ctx, job.ID, seq, buf[:n]); perr != nil {
				return "", 0, errors.Join(perr, s.store.DeleteJob(context.WithoutCancel(ctx), job.ID))
			}
			size += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		} else if err != nil {
			return "", 0, errors.Join(err, s.store.DeleteJob(context.WithoutCancel(ctx), job.ID))
		}
	}
	if size == 0 {
		return "", 0, errors.Join(errs.Invalid("invalid_body", "Users file must not be empty."), s.store.DeleteJob(ctx, job.ID))
	}
	return job.ID, size, nil
}

// DiscardUpload drops an upload that will not become a job.
func (s *Service) DiscardUpload(ctx context.Context, id string) error {
	return s.store.DeleteJob(ctx, id)
}

// FinishImport turns an upload into a pending import job, which the job
// runner of some instance picks up; an invalid request drops the upload.
func (s *Service) FinishImport(ctx context.Context, uploadID string, size int64, r ImportRequest) (Job, error) {
	job, err := s.importJobFor(ctx, r)
	if err != nil {
		return Job{}, errors.Join(err, s.store.DeleteJob(ctx, uploadID))
	}
	// A file of the wrong shape is refused now rather than failing later.
	head, err := s.store.JobChunk(ctx, uploadID, 0)
	if err == nil {
		_, err = NewRowReader(bytes.NewReader(head), job.Options.Format)
	}
	if err != nil {
		return Job{}, errors.Join(err, s.store.DeleteJob(ctx, uploadID))
	}
	job.ID, job.StoredFile, job.FileBytes = uploadID, true, size
	if err := s.store.SaveJob(ctx, job); errors.Is(err, errs.ErrDuplicate) {
		// A retry with the same Idempotency-Key raced this one: answer with its job.
		s.store.DeleteJob(ctx, uploadID)
		return s.store.JobByIdempotencyKey(ctx, r.IdempotencyKey)
	} else if err != nil {
		return Job{}, err
	}
	s.jobQueued()
	return job, nil
}

// JobByIdempotencyKey returns the job an earlier request with key made.
func (s *Service) JobByIdempotencyKey(ctx context.Context, key string) (Job, error) {
	return s.store.JobByIdempotencyKey(ctx, key)
}

// Job returns a job.
func (s *Service) Job(ctx context.Context, id string) (Job, error) {
	j, err := s.store.Job(ctx, id)
	if errors.Is(err, errs.ErrNotFound) || (err == nil && j.Status == JobUploading) {
		return Job{}, errs.NotFound("inexistent_job", "Job not found.")
	}
	return j, err
}

// JobErrors returns the rows a job could not take, in file order.
func (s *Service) JobErrors(ctx context.Context, id string) ([]JobError, error) {
	return s.FirstJobErrors(ctx, id, 0)
}

// FirstJobErrors returns the first n rows a job could not take (all when n
// is 0), in file order: enough for a page to show without loading them all.
func (s *Service) FirstJobErrors(ctx context.Context, id string, n int) ([]JobError, error) {
	if _, err := s.Job(ctx, id); err != nil {
		return nil, err
	}
	return s.store.JobErrors(ctx, id, n)
}

// ImportJobs returns the newest users imports, newest first, at most limit.
func (s *Service) ImportJobs(ctx context.Context, limit int) ([]Job, error) {
	return s.store.Jobs(ctx, JobUsersImport, limit)
}

// RunPendingImport claims one stored import that nobody is running (new, or
// left behind by an instance that stopped) and runs it to the end. It
// reports false when there was none.
func (s *Service) RunPendingImport(ctx context.Context) (bool, error) {
	now := s.now().UTC()
	if err := s.store.DeleteStaleUploads(ctx, now.Add(-staleUpload)); err != nil {
		return false, err
	}
	job, err := s.store.ClaimJob(ctx, now, now.Add(jobLease))
	if errors.Is(err, errs.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	_, err = s.runImport(ctx, job, &chunkReader{ctx: ctx, st: s.store, job: job.ID}, true, nil)
	if err == nil || ctx.Err() != nil {
		return true, nil // the outcome is in the job; a stopped run resumes elsewhere
	}
	return true, err
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

// ImportFile imports a users file read here (the command line's import) as
// job r describes. The job is stored, so a run stopped half way resumes
// where it stopped when started again with the same idempotency key. A dry
// run stores nothing and reports the rows through progress.
func (s *Service) ImportFile(ctx context.Context, r ImportRequest, file io.Reader, size int64, progress ImportProgress) (Job, error) {
	job, err := s.importJobFor(ctx, r)
	if err != nil {
		return Job{}, err
	}
	job.FileBytes = size
	if r.Options.DryRun {
		return s.runImport(ctx, job, file, false, progress)
	}
	var prev Job
	err = errs.ErrNotFound
	if r.IdempotencyKey != "" {
		prev, err = s.store.JobByIdempotencyKey(ctx, r.IdempotencyKey)
	}
	switch {
	case err == nil && prev.Done():
		return prev, nil
	case err == nil:
		job = prev // resume
	case !errors.Is(err, errs.ErrNotFound):
		return Job{}, err
	default:
		if err := s.store.CreateJob(ctx, job); errors.Is(err, errs.ErrDuplicate) {
			return Job{}, errs.Conflict("import_running", "This import started a moment ago elsewhere; run the command again to follow it.")
		} else if err != nil {
			return Job{}, err
		}
	}
	return s.runImport(ctx, job, file, true, progress)
}

// runImport reads file and imports its rows from where job stopped. The
// returned error is for the caller; the job records the same outcome.
func (s *Service) runImport(ctx context.Context, job Job, file io.Reader, persist bool, progress ImportProgress) (Job, error) {
	run := &importRun{s: s, job: job, seen: map[string]int64{}, persist: persist, opts: job.Options, skip: job.RowsDone, progress: progress}
	conn, err := s.store.Connection(ctx, job.ConnectionID)
	if err == nil {
		run.conn = conn
		rows, rerr := NewRowReader(file, job.Options.Format)
		if rerr == nil {
			err = run.rows(ctx, rows)
		} else {
			err = rerr
		}
	}
	if ctx.Err() != nil {
		return run.job, ctx.Err() // stopped: the job resumes where it is
	}
	return run.end(ctx, err)
}

// rows imports every row of the file, batch by batch: one goroutine reads,
// checks and renders the next batch while this one writes the last.
func (run *importRun) rows(ctx context.Context, rows *RowReader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *importBatchOf, 1)
	var readErr error
	go func() {
		defer close(batches)
		readErr = run.read(ctx, rows, batches)
	}()
	var err error
	for b := range batches {
		if err == nil {
			err = run.commit(ctx, b)
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

// importBatchOf is a batch of rows, checked and ready to write.
type importBatchOf struct {
	first, count, offset int64
	valid                []pendingUser
	failed               []JobError // rows broken in themselves
	plan                 importPlan
}

// importPlan is what a batch writes.
type importPlan struct {
	bulk    BulkInsert
	updates []User
	failed  []JobError // rows that clash with existing users
	delta   JobSummary
}

// read prepares the file's batches, skipping the rows an earlier run did.
func (run *importRun) read(ctx context.Context, rows *RowReader, out chan<- *importBatchOf) error {
	var index int64
	for {
		batch := make([]ImportRow, 0, importBatch)
		first := index + 1
		var ferr error
		for len(batch) < importBatch {
			row, err := rows.Next()
			if err != nil {
				ferr = err
				break
			}
			index++
			if index <= run.skip {
				// Done by an earlier run: only remember its email, so a
				// later duplicate of it is still caught.
				if rec, problems := decodeRecord(row.Raw); len(problems) == 0 {
					email, _ := NormalizeEmail(rec.Email)
					if _, dup := run.seen[email]; !dup {
						run.seen[email] = row.Line
					}
				}
				first = index + 1
				continue
			}
			batch = append(batch, row)
		}
		if len(batch) > 0 {
			b, err := run.prepare(ctx, first, batch, rows.Offset())
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
	row   ImportRow
	index int64
	rec   importRecord
	user  User
}

// prepare checks each row of a batch (the first being row number first) and
// plans what the batch writes.
func (run *importRun) prepare(ctx context.Context, first int64, rows []ImportRow, offset int64) (*importBatchOf, error) {
	s := run.s
	b := &importBatchOf{first: first, count: int64(len(rows)), offset: offset}
	fail := func(p pendingUser, problems ...FieldError) {
		b.failed = append(b.failed, JobError{Line: p.row.Line, Row: p.index, User: p.row.Raw, Errors: problems})
	}
	for i, row := range rows {
		p := pendingUser{row: row, index: first + int64(i)}
		rec, problems := decodeRecord(row.Raw)
		if len(problems) > 0 {
			fail(p, problems...)
			continue
		}
		u, _, err := s.PrepareUser(ctx, rec.newUser(run.conn.Name))
		var de *errs.Error
		if errors.As(err, &de) {
			fail(p, FieldError{Code: "FORMAT", Message: de.Message})
			continue
		} else if err != nil {
			return nil, err
		}
		if line, dup := run.seen[u.Email]; dup {
			fail(p, FieldError{Code: "DUPLICATED_USER", Message: fmt.Sprintf("The user already exists in this file (line %d)", line), Path: "email"})
			continue
		}
		run.seen[u.Email] = row.Line
		u.PasswordHash = rec.passwordHash()
		p.rec, p.user = rec, u
		b.valid = append(b.valid, p)
	}
	var err error
	b.plan, err = run.plan(ctx, b.valid)
	return b, err
}

// plan sorts valid rows into new, updated and skipped users, with the
// invitations (links and rendered mails) they get.
func (run *importRun) plan(ctx context.Context, valid []pendingUser) (importPlan, error) {
	s, opts := run.s, run.opts
	var p importPlan
	emails := make([]string, len(valid))
	for i, v := range valid {
		emails[i] = v.user.Email
	}
	existing, err := s.store.UsersByEmails(ctx, run.conn.ID, emails)
	if err != nil {
		return p, err
	}
	now := s.now().UTC()
	for _, v := range valid {
		u, invite := v.user, opts.Invite && v.user.PasswordHash == ""
		cur, exists := existing[u.Email]
		switch {
		case !exists:
			p.delta.Inserted++
		case opts.Upsert:
			u, invite = upsert(cur, v, now), invite && cur.PasswordHash == "" && !cur.NeedsInvitation()
			p.delta.Updated++
		case opts.SkipExisting:
			p.delta.Skipped++
			continue
		default:
			p.failed = append(p.failed, JobError{Line: v.row.Line, Row: v.index, User: v.row.Raw,
				Errors: []FieldError{{Code: "DUPLICATED_USER", Message: "The user already exists and upsert parameter is false", Path: "email"}}})
			continue
		}
		if invite {
			if u, err = s.InviteInBulk(ctx, &p.bulk, u, run.conn, opts, now); err != nil {
				return p, err
			}
			p.delta.Invited++
		}
		if exists {
			p.updates = append(p.updates, u)
		} else {
			p.bulk.Users = append(p.bulk.Users, u)
		}
	}
	return p, nil
}

// commit writes a batch together with the job's progress, in one
// transaction, so that the job resumes exactly after it.
func (run *importRun) commit(ctx context.Context, b *importBatchOf) error {
	for attempt := 0; ; attempt++ {
		err := run.write(ctx, b)
		if !errors.Is(err, errs.ErrDuplicate) || attempt == 2 {
			return err
		}
		// Someone else created one of these users meanwhile: plan again.
		if b.plan, err = run.plan(ctx, b.valid); err != nil {
			return err
		}
	}
}

func (run *importRun) write(ctx context.Context, b *importBatchOf) error {
	s, p := run.s, b.plan
	now := s.now().UTC()
	failed := append(append([]JobError(nil), b.failed...), p.failed...)
	slices.SortFunc(failed, func(a, b JobError) int { return cmp.Compare(a.Row, b.Row) })
	job := run.job
	sum := &job.Summary
	sum.Total += b.count
	sum.Inserted += p.delta.Inserted
	sum.Updated += p.delta.Updated
	sum.Skipped += p.delta.Skipped
	sum.Invited += p.delta.Invited
	sum.Failed += int64(len(failed))
	job.RowsDone, job.BytesDone, job.UpdatedAt, job.LeaseUntil = b.first+b.count-1, b.offset, now, now.Add(jobLease)
	if run.opts.DryRun {
		// Nothing lands but the report; its counts say what would have.
		p.bulk, p.updates = BulkInsert{}, nil
	}
	if run.persist {
		err := s.store.Atomic(ctx, func(st Store) error {
			if err := st.InsertBulk(ctx, p.bulk); err != nil {
				return err
			}
			for _, u := range p.updates {
				if err := st.UpdateUser(ctx, u); err != nil {
					return err
				}
				if u.NeedsInvitation() {
					if err := st.RevokeTickets(ctx, u.ID, TicketPasswordChange, now); err != nil {
						return err
					}
				}
			}
			if err := st.AddJobErrors(ctx, job.ID, failed); err != nil {
				return err
			}
			return st.SaveJob(ctx, job)
		})
		if err != nil {
			return err
		}
	}
	if len(p.bulk.Mails) > 0 {
		s.mailQueued()
	}
	run.job = job
	if run.progress != nil {
		run.progress(job, failed)
	}
	return nil
}

// upsert applies a row to the user it matched, as Auth0's upsert does: the
// fields the row sets replace the user's, metadata whole.
func upsert(cur User, p pendingUser, now time.Time) User {
	var given map[string]json.RawMessage
	json.Unmarshal(p.row.Raw, &given) // it decoded as a record already
	set := func(k string) bool { _, ok := given[k]; return ok }
	u, r, prof := cur, p.rec, p.user.Profile
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
		keep := cur.NeedsInvitation()
		u.AppMetadata = orEmpty(r.AppMetadata)
		if keep {
			u.AppMetadata["needsInvitation"] = true
		}
	}
	if set("user_metadata") {
		u.UserMetadata = orEmpty(r.UserMetadata)
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
func (run *importRun) end(ctx context.Context, err error) (Job, error) {
	s, job := run.s, run.job
	now := s.now().UTC()
	job.Status, job.UpdatedAt, job.LeaseUntil = JobCompleted, now, time.Time{}
	job.BytesDone = job.FileBytes
	var de *errs.Error
	switch {
	case errors.As(err, &de):
		job.Status, job.StatusDetails = JobFailed, de.Message
	case err != nil:
		job.Status, job.StatusDetails = JobFailed, "The import stopped: "+err.Error()
	}
	run.job = job
	if !run.persist {
		return job, err
	}
	sum := job.Summary
	e := LogEvent{Type: "sui", Connection: job.Connection, Details: map[string]any{"job_id": job.ID, "connection_id": job.ConnectionID},
		Description: fmt.Sprintf("Users import %s: %d rows, %d inserted, %d updated, %d invited, %d skipped, %d failed", job.ID, sum.Total, sum.Inserted, sum.Updated, sum.Invited, sum.Skipped, sum.Failed)}
	if job.Status == JobFailed {
		e.Type, e.Description = "fui", fmt.Sprintf("Users import %s failed: %s", job.ID, job.StatusDetails)
	}
	werr := s.store.Atomic(context.WithoutCancel(ctx), func(st Store) error {
		if err := st.SaveJob(ctx, job); err != nil {
			return err
		}
		if job.StoredFile {
			if err := st.DeleteJobChunks(ctx, job.ID); err != nil {
				return err
			}
		}
		return s.log(ctx, st, e, now)
	})
	if run.progress != nil {
		run.progress(job, nil)
	}
	return job, errors.Join(err, werr)
}

// VerificationEmailRequest is the body of POST /api/v2/jobs/verification-email.
type VerificationEmailRequest struct {
	UserID         string          `json:"user_id"`
	ClientID       string          `json:"client_id"`
	Identity       *VerifyIdentity `json:"identity"`
	OrganizationID string          `json:"organization_id"`
}

// VerifyIdentity names which of a user's identities to verify.
type VerifyIdentity struct {
	UserID   string `json:"user_id"`
	Provider string `json:"provider"`
}

// VerificationEmailJob queues the verify_email mail for a user, as a job
// that is complete once the mail waits in the outbox.
func (s *Service) VerificationEmailJob(ctx context.Context, r VerificationEmailRequest) (Job, error) {
	if r.UserID == "" {
		return Job{}, errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: user_id'.")
	}
	if r.Identity != nil && r.Identity.Provider != "auth0" {
		return Job{}, errs.Invalid("invalid_body", "Only database identities (provider auth0) can be verified.")
	}
	u, err := s.User(ctx, r.UserID)
	if err != nil {
		return Job{}, err
	}
	if err := s.checkClient(ctx, r.ClientID); err != nil {
		return Job{}, err
	}
	now := s.now().UTC()
	verify, err := s.prepareVerification(ctx, u, u.Connection, now)
	if err != nil {
		return Job{}, err
	}
	if verify == nil {
		return Job{}, errs.Invalid("invalid_body", "The verify_email template is disabled.")
	}
	job := Job{ID: NewJobID(), Type: JobVerificationEmail, Status: JobCompleted, ConnectionID: u.ConnectionID,
		Connection: u.Connection, CreatedAt: now, UpdatedAt: now, Summary: JobSummary{Total: 1}}
	err = s.store.Atomic(ctx, func(st Store) error {
		if err := verify.store(ctx, s, st, u, now); err != nil {
			return err
		}
		return st.CreateJob(ctx, job)
	})
	if err != nil {
		return Job{}, err
	}
	s.mailQueued()
	return job, nil
}

// jobPoll is how often an idle job runner looks for imports that another
// instance accepted or left behind.
const jobPoll = 5 * time.Second

// JobRunner runs stored imports in the background, one at a time per
// instance; on PostgreSQL every instance's runner takes part.
type JobRunner struct {
	s       *Service
	wake    chan struct{}
	onError func(error)
}

// NewJobRunner returns a runner for s's jobs; onError hears what went wrong.
func NewJobRunner(s *Service, onError func(error)) *JobRunner {
	return &JobRunner{s: s, wake: make(chan struct{}, 1), onError: onError}
}

// Notify wakes the runner: a job is waiting.
func (r *JobRunner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends; a job it was running resumes later from its last batch.
func (r *JobRunner) Run(ctx context.Context) {
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
		case <-time.After(jobPoll):
		}
	}
}

// runOne runs the next pending import, turning a panic in a file reader into
// an error: one bad upload must not stop the server that reads it.
func (r *JobRunner) runOne(ctx context.Context) (ran bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			ran, err = false, fmt.Errorf("import job: panic: %v\n%s", v, debug.Stack())
		}
	}()
	return r.s.RunPendingImport(ctx)
}

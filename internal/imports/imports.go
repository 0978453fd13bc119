// Package imports brings users in bulk into a database connection from
// Auth0's bulk-import file (a JSON array of user objects) or CSV with the
// same fields: it receives the file from the Management API or the
// dashboard into the database chunk by chunk, or reads it from the command
// line, and runs it in batches, checking every row as Auth0 does and
// inviting the people it adds. The rules for users and invitations stay
// in package identity; the jobs are identity's records too, since a
// verification mail is also a job.
package imports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// Tx is what an import writes in one transaction: a batch of users with
// their invitations and the job's progress, or the job's end.
type Tx interface {
	// InsertBulk adds a batch of new users with their invitations, links and mails.
	InsertBulk(ctx context.Context, b identity.BulkInsert) error
	UpdateUser(ctx context.Context, u identity.User) error
	// RevokeTickets revokes the user's open tickets of kind ("" for every kind).
	RevokeTickets(ctx context.Context, userID, kind string, now time.Time) error
	AddJobErrors(ctx context.Context, jobID string, errs []identity.JobError) error
	// SaveJob stores a job's state, progress and summary, if the job is
	// still j.Claim's (else errs.ErrLeaseLost).
	SaveJob(ctx context.Context, j identity.Job) error
	DeleteJobChunks(ctx context.Context, jobID string) error
	AddLog(ctx context.Context, e identity.LogEvent) error
}

// Store is the persistence imports need. A store returns errs.ErrNotFound
// for a missing row and errs.ErrDuplicate for a unique-key clash.
type Store interface {
	Tx
	// Atomic runs fn in one transaction. The store it hands fn is the
	// transaction's, typed as identity's; it has Tx's methods too.
	Atomic(ctx context.Context, fn func(identity.Store) error) error

	Connection(ctx context.Context, id string) (identity.Connection, error)
	ConnectionByName(ctx context.Context, name string) (identity.Connection, error)
	// UsersByEmails returns, by email, the users of a connection who have
	// one of emails.
	UsersByEmails(ctx context.Context, connectionID string, emails []string) (map[string]identity.User, error)

	CreateJob(ctx context.Context, j identity.Job) error
	Job(ctx context.Context, id string) (identity.Job, error)
	JobByIdempotencyKey(ctx context.Context, key string) (identity.Job, error)
	// DeleteJob removes a job with its file and errors.
	DeleteJob(ctx context.Context, id string) error
	// DeleteStaleUploads removes uploads begun before before that never
	// became a job (the server stopped half way), with their chunks.
	DeleteStaleUploads(ctx context.Context, before time.Time) error
	// ClaimJob leases for claim until leaseUntil a pending import whose file
	// is stored and whom nobody holds (or whose lease ran out before now).
	ClaimJob(ctx context.Context, now, leaseUntil time.Time, claim string) (identity.Job, error)
	// TakeJob leases job id the same way, ErrNotFound when someone holds it.
	TakeJob(ctx context.Context, id string, now, leaseUntil time.Time, claim string) (identity.Job, error)
	// LeaseJob moves the lease of a job still held by claim to until (zero:
	// let it go), errs.ErrLeaseLost when another claim has it.
	LeaseJob(ctx context.Context, id, claim string, until time.Time) error
	PutJobChunk(ctx context.Context, jobID string, seq int, data []byte) error
	// JobChunk returns chunk seq of a job's file, ErrNotFound past the end.
	JobChunk(ctx context.Context, jobID string, seq int) ([]byte, error)
	// JobErrors returns a job's failed rows in file order: the first limit
	// of them, or all when limit is 0.
	JobErrors(ctx context.Context, jobID string, limit int) ([]identity.JobError, error)
	// Jobs returns the newest jobs of a type whose file has arrived (none
	// still uploading), newest first, at most limit of them.
	Jobs(ctx context.Context, jobType string, limit int) ([]identity.Job, error)
}

// Service receives, runs and reports users imports.
type Service struct {
	store      Store
	ids        *identity.Service
	now        identity.Clock
	lease      time.Duration
	mailQueued func()
	jobQueued  func()
	written    func(identity.JobSummary)
}

// Options are the Service's settings and collaborators.
type Options struct {
	// MailQueued is called after a batch that queued invitation mail
	// commits, to wake the delivery worker. Optional.
	MailQueued func()
	// JobQueued is called when an uploaded import is ready to run, to wake
	// the job runner. Optional.
	JobQueued func()
	// Written is called after each batch of rows an import stores
	// commits, with the batch's rows by result (for /metrics). Optional.
	Written func(rows identity.JobSummary)
	Now     identity.Clock
	// Lease is how long a job stays with the instance running it without
	// news from it; after that another instance may resume it. The runner
	// renews it three times per lease. Default: a minute.
	Lease time.Duration
}

// NewService returns a Service over store that makes users and
// invitations by the rules of ids.
func NewService(store Store, ids *identity.Service, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MailQueued == nil {
		o.MailQueued = func() {}
	}
	if o.JobQueued == nil {
		o.JobQueued = func() {}
	}
	if o.Written == nil {
		o.Written = func(identity.JobSummary) {}
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	return &Service{store: store, ids: ids, now: o.Now, lease: o.Lease, mailQueued: o.MailQueued, jobQueued: o.JobQueued, written: o.Written}
}

// Request describes a users import.
type Request struct {
	// ConnectionID, or Connection by name, is the database connection to fill.
	ConnectionID   string
	Connection     string
	ExternalID     string
	IdempotencyKey string
	Options        identity.ImportOptions
}

// jobFor validates r and returns the job it describes, not yet stored.
func (s *Service) jobFor(ctx context.Context, r Request) (identity.Job, error) {
	var conn identity.Connection
	var err error
	switch {
	case r.ConnectionID != "":
		conn, err = s.store.Connection(ctx, r.ConnectionID)
	case r.Connection != "":
		conn, err = s.store.ConnectionByName(ctx, r.Connection)
	default:
		return identity.Job{}, errs.Invalid("invalid_body", "Must provide 'connection_id' as multipart part.")
	}
	if errors.Is(err, errs.ErrNotFound) {
		return identity.Job{}, errs.Invalid("invalid_body", "The connection does not exist.")
	} else if err != nil {
		return identity.Job{}, err
	}
	if conn.Strategy != "auth0" {
		return identity.Job{}, errs.Invalid("invalid_body", "Connection must be a database connection.")
	}
	if len(r.ExternalID) > 255 {
		return identity.Job{}, errs.Invalid("invalid_body", "external_id must be at most 255 characters.")
	}
	if err := identity.CheckLinkOptions(r.Options.ResultURL, r.Options.TTLSec); err != nil {
		return identity.Job{}, err
	}
	if r.Options.Format == "" {
		r.Options.Format = "json"
	}
	if r.Options.Format != "json" && r.Options.Format != "csv" {
		return identity.Job{}, errs.Invalid("invalid_body", "The file format must be json or csv.")
	}
	now := s.now().UTC()
	return identity.Job{ID: identity.NewJobID(), Type: identity.JobUsersImport, Status: identity.JobPending, ConnectionID: conn.ID,
		Connection: conn.Name, ExternalID: r.ExternalID, IdempotencyKey: r.IdempotencyKey, Options: r.Options, CreatedAt: now, UpdatedAt: now}, nil
}

// atomic runs fn in one transaction, through the transaction's store.
func (s *Service) atomic(ctx context.Context, fn func(Tx) error) error {
	return s.store.Atomic(ctx, func(st identity.Store) error {
		tx, ok := st.(Tx)
		if !ok {
			return fmt.Errorf("imports: the store's transaction (%T) cannot write an import", st)
		}
		return fn(tx)
	})
}

// Job returns a job: a users import, or a verification mail (which
// package identity makes). An upload still arriving is no job yet.
func (s *Service) Job(ctx context.Context, id string) (identity.Job, error) {
	j, err := s.store.Job(ctx, id)
	if errors.Is(err, errs.ErrNotFound) || (err == nil && j.Status == identity.JobUploading) {
		return identity.Job{}, errs.NotFound("inexistent_job", "Job not found.")
	}
	return j, err
}

// JobByIdempotencyKey returns the job an earlier request with key made.
func (s *Service) JobByIdempotencyKey(ctx context.Context, key string) (identity.Job, error) {
	return s.store.JobByIdempotencyKey(ctx, key)
}

// JobErrors returns the rows a job could not take, in file order.
func (s *Service) JobErrors(ctx context.Context, id string) ([]identity.JobError, error) {
	return s.FirstJobErrors(ctx, id, 0)
}

// FirstJobErrors returns the first n rows a job could not take (all when n
// is 0), in file order: enough for a page to show without loading them all.
func (s *Service) FirstJobErrors(ctx context.Context, id string, n int) ([]identity.JobError, error) {
	if _, err := s.Job(ctx, id); err != nil {
		return nil, err
	}
	return s.store.JobErrors(ctx, id, n)
}

// Jobs returns the newest users imports, newest first, at most limit.
func (s *Service) Jobs(ctx context.Context, limit int) ([]identity.Job, error) {
	return s.store.Jobs(ctx, identity.JobUsersImport, limit)
}

// Now is the time on the service's clock, by which jobs' progress is told.
func (s *Service) Now() time.Time { return s.now() }

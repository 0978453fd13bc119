package identity

import (
	"context"
	"encoding/json"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/outbox"
)

// Job types, as Auth0 names them.
const (
	JobUsersImport       = "users_import"
	JobVerificationEmail = "verification_email"
)

// Job states. Auth0 reports a job "pending" until it ends, so a running job
// is pending too; LeaseUntil tells whether someone is working on it.
const (
	JobPending   = "pending"
	JobUploading = "uploading" // its file is still arriving; nobody may start it
	JobCompleted = "completed"
	JobFailed    = "failed"
)

// Job is a long-running piece of work the Management API hands back an id
// for: a users import (which package imports receives and runs) or a
// verification mail (which VerificationEmailJob makes here).
type Job struct {
	ID             string
	Type           string
	Status         string
	ConnectionID   string
	Connection     string // its name
	ExternalID     string
	IdempotencyKey string
	Options        ImportOptions
	// StoredFile says the users file is kept in the database, so that any
	// instance can run or resume the job; a file read from the command
	// line is not.
	StoredFile bool
	FileBytes  int64
	// RowsDone and BytesDone are how far the job has come: every row before
	// RowsDone has landed (or been reported), which is where a resumed job
	// goes on from.
	RowsDone      int64
	BytesDone     int64
	Summary       JobSummary
	StatusDetails string
	LeaseUntil    time.Time
	// Claim is the token of whoever holds the lease. Every write of the job
	// names the claim it was read under, and a store refuses it with
	// errs.ErrLeaseLost once another claim has taken the job.
	Claim     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ImportOptions say how a users import treats its rows.
type ImportOptions struct {
	Format string `json:"format"` // "json" (Auth0's bulk-import file) or "csv"
	// Upsert updates users who exist already (matched by email), as Auth0's
	// upsert does: metadata is replaced, not merged.
	Upsert bool `json:"upsert"`
	// SkipExisting counts users who exist already as skipped rather than as
	// failed rows.
	SkipExisting bool `json:"skip_existing"`
	// Invite sends an invitation to every imported user without a password.
	Invite bool `json:"invite"`
	// DryRun validates every row and writes nothing but the job's report.
	DryRun              bool   `json:"dry_run"`
	SendCompletionEmail bool   `json:"send_completion_email"`
	ResultURL           string `json:"result_url,omitempty"`
	TTLSec              int    `json:"ttl_sec,omitempty"`
}

// JobSummary counts what became of a job's rows.
type JobSummary struct {
	Total    int64 `json:"total"`
	Inserted int64 `json:"inserted"`
	Updated  int64 `json:"updated"`
	Failed   int64 `json:"failed"`
	Skipped  int64 `json:"skipped"`
	Invited  int64 `json:"invited"`
}

// Done tells whether the job has ended.
func (j Job) Done() bool { return j.Status == JobCompleted || j.Status == JobFailed }

// PercentDone is how much of the file the job has read.
func (j Job) PercentDone() int {
	switch {
	case j.Done():
		return 100
	case j.FileBytes <= 0:
		return 0
	}
	return int(min(99, j.BytesDone*100/j.FileBytes))
}

// TimeLeft guesses how long the job still needs from its pace so far; 0
// when it has ended or has not read anything yet.
func (j Job) TimeLeft(now time.Time) time.Duration {
	elapsed := now.Sub(j.CreatedAt)
	if j.Done() || j.BytesDone <= 0 || elapsed <= 0 {
		return 0
	}
	return time.Duration(float64(j.FileBytes-j.BytesDone) / float64(j.BytesDone) * float64(elapsed))
}

// JobError is a row a job could not take, with where it is in the file.
type JobError struct {
	Line   int64           `json:"line"`
	Row    int64           `json:"row"`
	User   json.RawMessage `json:"user"`
	Errors []FieldError    `json:"errors"`
}

// FieldError is one thing wrong with a row, with Auth0's bulk-import codes
// (FORMAT, INVALID_TYPE, DUPLICATED_USER, ...).
type FieldError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Path    string `json:"path,omitempty"`
}

// BulkInsert is what a batch of imported rows adds, written in one go.
type BulkInsert struct {
	Users       []User
	Invitations []Invitation // with their events
	Tickets     []Ticket
	Mails       []outbox.Mail
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

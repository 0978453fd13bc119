package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

const jobColumns = `id, type, status, connection_id, connection, external_id, COALESCE(idempotency_key, ''), options,
	stored_file, file_bytes, rows_done, bytes_done, summary, status_details, lease_until, claim, created_at, updated_at`

func scanJob(row rowScanner) (identity.Job, error) {
	var j identity.Job
	var opts, sum string
	var lease sql.NullInt64
	var created, updated int64
	err := row.Scan(&j.ID, &j.Type, &j.Status, &j.ConnectionID, &j.Connection, &j.ExternalID, &j.IdempotencyKey, &opts,
		&j.StoredFile, &j.FileBytes, &j.RowsDone, &j.BytesDone, &sum, &j.StatusDetails, &lease, &j.Claim, &created, &updated)
	if err != nil {
		return j, translate(err)
	}
	if err := json.Unmarshal([]byte(opts), &j.Options); err != nil {
		return j, fmt.Errorf("job %s options: %w", j.ID, err)
	}
	if err := json.Unmarshal([]byte(sum), &j.Summary); err != nil {
		return j, fmt.Errorf("job %s summary: %w", j.ID, err)
	}
	j.LeaseUntil, j.CreatedAt, j.UpdatedAt = fromNullMillis(lease), fromMillis(created), fromMillis(updated)
	return j, nil
}

// jobArgs returns every column but id, in jobColumns' order.
func jobArgs(j identity.Job) ([]any, error) {
	opts, err := jsonText(j.Options)
	if err != nil {
		return nil, err
	}
	sum, err := jsonText(j.Summary)
	if err != nil {
		return nil, err
	}
	return []any{j.Type, j.Status, j.ConnectionID, j.Connection, j.ExternalID, nullString(j.IdempotencyKey), opts,
		j.StoredFile, j.FileBytes, j.RowsDone, j.BytesDone, sum, j.StatusDetails, nullMillis(j.LeaseUntil), j.Claim,
		millis(j.CreatedAt), millis(j.UpdatedAt)}, nil
}

func (q *queries) CreateJob(ctx context.Context, j identity.Job) error {
	args, err := jobArgs(j)
	if err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO jobs (id, type, status, connection_id, connection, external_id, idempotency_key,
		options, stored_file, file_bytes, rows_done, bytes_done, summary, status_details, lease_until, claim, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`, append([]any{j.ID}, args...)...)
	return translate(err)
}

// SaveJob writes j over the stored job if the job is still j.Claim's:
// under another claim it is errs.ErrLeaseLost, and nothing changes.
func (q *queries) SaveJob(ctx context.Context, j identity.Job) error {
	args, err := jobArgs(j)
	if err != nil {
		return fmt.Errorf("save job: %w", err)
	}
	err = mustAffect(q.w.ExecContext(ctx, `UPDATE jobs SET type = $1, status = $2, connection_id = $3, connection = $4,
		external_id = $5, idempotency_key = $6, options = $7, stored_file = $8, file_bytes = $9, rows_done = $10,
		bytes_done = $11, summary = $12, status_details = $13, lease_until = $14, claim = $15, created_at = $16,
		updated_at = $17 WHERE id = $18 AND claim = $15`, append(args, j.ID)...))
	return q.fenced(ctx, j.ID, err)
}

// fenced turns a job write that changed no row into errs.ErrLeaseLost when
// the job is there, under another claim.
func (q *queries) fenced(ctx context.Context, id string, err error) error {
	if !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	var one int
	if q.r.QueryRowContext(ctx, `SELECT 1 FROM jobs WHERE id = $1`, id).Scan(&one) == nil {
		return fmt.Errorf("job %s: %w", id, errs.ErrLeaseLost)
	}
	return err
}

// LeaseJob moves the lease of a job still held by claim to until; a zero
// until lets the job go, for any instance to take at once.
func (q *queries) LeaseJob(ctx context.Context, id, claim string, until time.Time) error {
	err := mustAffect(q.w.ExecContext(ctx, `UPDATE jobs SET lease_until = $1 WHERE id = $2 AND claim = $3`, nullMillis(until), id, claim))
	return q.fenced(ctx, id, err)
}

func (q *queries) Job(ctx context.Context, id string) (identity.Job, error) {
	return scanJob(q.r.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`+q.forUpdate(), id))
}

func (q *queries) JobByIdempotencyKey(ctx context.Context, key string) (identity.Job, error) {
	return scanJob(q.r.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE idempotency_key = $1`, key))
}

func (q *queries) DeleteJob(ctx context.Context, id string) error {
	// Children first: SQLite's foreign keys cascade, but only when enabled
	// on the connection, and one statement each keeps both engines alike.
	for _, stmt := range []string{`DELETE FROM job_chunks WHERE job_id = $1`, `DELETE FROM job_errors WHERE job_id = $1`, `DELETE FROM jobs WHERE id = $1`} {
		if _, err := q.w.ExecContext(ctx, stmt, id); err != nil {
			return translate(err)
		}
	}
	return nil
}

func (q *queries) DeleteStaleUploads(ctx context.Context, before time.Time) error {
	ids, err := list(ctx, q.r, func(row rowScanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT id FROM jobs WHERE status = $1 AND created_at < $2`, identity.JobUploading, millis(before))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := q.DeleteJob(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// ClaimJob picks the oldest runnable import and takes it, so that of
// several instances asking at once only one wins.
func (q *queries) ClaimJob(ctx context.Context, now, leaseUntil time.Time, claim string) (identity.Job, error) {
	for {
		var id string
		err := q.r.QueryRowContext(ctx, `SELECT id FROM jobs WHERE status = $1 AND stored_file
			AND (lease_until IS NULL OR lease_until < $2) ORDER BY created_at, id LIMIT 1`, identity.JobPending, millis(now)).Scan(&id)
		if err != nil {
			return identity.Job{}, translate(err)
		}
		j, err := q.TakeJob(ctx, id, now, leaseUntil, claim)
		if errors.Is(err, errs.ErrNotFound) {
			continue // another instance took it first
		}
		return j, err
	}
}

// TakeJob takes a pending job nobody holds (or whose lease ran out before
// now) for claim until leaseUntil, with a conditional update: of several
// takers one wins, the others get errs.ErrNotFound.
func (q *queries) TakeJob(ctx context.Context, id string, now, leaseUntil time.Time, claim string) (identity.Job, error) {
	err := mustAffect(q.w.ExecContext(ctx, `UPDATE jobs SET lease_until = $1, claim = $2 WHERE id = $3 AND status = $4
		AND (lease_until IS NULL OR lease_until < $5)`, millis(leaseUntil), claim, id, identity.JobPending, millis(now)))
	if err != nil {
		return identity.Job{}, err
	}
	return q.Job(ctx, id)
}

func (q *queries) PutJobChunk(ctx context.Context, jobID string, seq int, data []byte) error {
	_, err := q.w.ExecContext(ctx, `INSERT INTO job_chunks (job_id, seq, data) VALUES ($1, $2, $3)`, jobID, seq, data)
	return translate(err)
}

func (q *queries) JobChunk(ctx context.Context, jobID string, seq int) ([]byte, error) {
	var data []byte
	err := q.r.QueryRowContext(ctx, `SELECT data FROM job_chunks WHERE job_id = $1 AND seq = $2`, jobID, seq).Scan(&data)
	return data, translate(err)
}

func (q *queries) DeleteJobChunks(ctx context.Context, jobID string) error {
	_, err := q.w.ExecContext(ctx, `DELETE FROM job_chunks WHERE job_id = $1`, jobID)
	return translate(err)
}

func (q *queries) AddJobErrors(ctx context.Context, jobID string, errs []identity.JobError) error {
	rows := make([][]any, len(errs))
	for i, e := range errs {
		fields, err := jsonText(e.Errors)
		if err != nil {
			return fmt.Errorf("job errors: %w", err)
		}
		rows[i] = []any{jobID, e.Row, e.Line, string(e.User), fields}
	}
	return q.insert(ctx, jobErrorsTable, rows)
}

func (q *queries) JobErrors(ctx context.Context, jobID string, limit int) ([]identity.JobError, error) {
	query := `SELECT row_no, line, record, errors FROM job_errors WHERE job_id = $1 ORDER BY row_no`
	args := []any{jobID}
	if limit > 0 {
		query += ` LIMIT $2`
		args = append(args, limit)
	}
	return list(ctx, q.r, func(row rowScanner) (identity.JobError, error) {
		var e identity.JobError
		var record, fields string
		if err := row.Scan(&e.Row, &e.Line, &record, &fields); err != nil {
			return e, err
		}
		e.User = json.RawMessage(record)
		return e, json.Unmarshal([]byte(fields), &e.Errors)
	}, query, args...)
}

func (q *queries) Jobs(ctx context.Context, jobType string, limit int) ([]identity.Job, error) {
	return list(ctx, q.r, scanJob, `SELECT `+jobColumns+` FROM jobs WHERE type = $1 AND status <> $2
		ORDER BY created_at DESC, id DESC LIMIT $3`, jobType, identity.JobUploading, limit)
}

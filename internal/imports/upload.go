package imports

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// MaxFileBytes bounds an uploaded users file. Auth0 takes 500 KB; Usher
// streams the file into the database chunk by chunk, so the bound only
// guards the disk.
const MaxFileBytes = 1 << 30

// chunkBytes is how much of an uploaded users file one stored row holds.
const chunkBytes = 1 << 20

// Form reads an import request as it arrives: it fills in r from the
// request's fields and hands the users file to upload, which stores it as
// it is read. The fields may come before or after the file (Auth0's SDKs
// send the file first), so the request is whole only once Form returns.
type Form func(r *Request, upload func(file io.Reader) error) error

// Start receives an import from the Management API or the dashboard and
// makes it a pending job, which the job runner of some instance picks up.
// A request with the idempotency key of an earlier one answers that job
// and reads nothing. The file goes into the database chunk by chunk as the
// form hands it over, never whole in memory; its start, kept as it streams
// by, is checked against the request's format before the job exists. On
// any error the partial upload is dropped.
func (s *Service) Start(ctx context.Context, idempotencyKey string, form Form) (identity.Job, error) {
	if idempotencyKey != "" {
		if job, err := s.store.JobByIdempotencyKey(ctx, idempotencyKey); err == nil {
			return job, nil
		}
	}
	r := Request{IdempotencyKey: idempotencyKey}
	var up *upload
	err := form(&r, func(file io.Reader) error {
		if up != nil {
			return errs.Invalid("invalid_body", "Only one users file may be sent.")
		}
		up = &upload{}
		return s.receive(ctx, up, file)
	})
	if err == nil && up == nil {
		err = errs.Invalid("invalid_body", "Must provide 'users' file as multipart part.")
	}
	var job identity.Job
	if err == nil {
		job, err = s.finish(ctx, up, r)
	}
	if err != nil {
		if up != nil && up.id != "" {
			err = errors.Join(err, s.store.DeleteJob(context.WithoutCancel(ctx), up.id))
		}
		return identity.Job{}, err
	}
	return job, nil
}

// upload is a users file on its way into the database, stored under a job
// that nobody may run until the request it came with is whole.
type upload struct {
	id   string // the job it is stored under; "" until there is one
	size int64
	head []byte // the first chunk, to check once the format is known
}

// receive stores file in up as it is read.
func (s *Service) receive(ctx context.Context, up *upload, file io.Reader) error {
	now := s.now().UTC()
	job := identity.Job{ID: identity.NewJobID(), Type: identity.JobUsersImport, Status: identity.JobUploading, StoredFile: true, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateJob(ctx, job); err != nil {
		return err
	}
	up.id = job.ID
	buf := make([]byte, chunkBytes)
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(file, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			// The upload broke off (and with it, maybe, the request's
			// context): its error is the one to tell, and Start drops
			// what came before.
			return err
		}
		if n > 0 {
			if err := s.store.PutJobChunk(ctx, up.id, seq, buf[:n]); err != nil {
				return err
			}
			up.size += int64(n)
		}
		if seq == 0 {
			up.head = buf[:n]
		}
		if err != nil { // io.EOF or io.ErrUnexpectedEOF: the file ended
			break
		}
		if seq == 0 {
			buf = make([]byte, chunkBytes) // the head stays as it is
		}
	}
	if up.size == 0 {
		return errs.Invalid("invalid_body", "Users file must not be empty.")
	}
	return nil
}

// finish makes the upload the pending job r describes.
func (s *Service) finish(ctx context.Context, up *upload, r Request) (identity.Job, error) {
	job, err := s.jobFor(ctx, r)
	if err != nil {
		return identity.Job{}, err
	}
	// A file of the wrong shape is refused now rather than failing later.
	if _, err := NewRowReader(bytes.NewReader(up.head), job.Options.Format); err != nil {
		return identity.Job{}, err
	}
	job.ID, job.StoredFile, job.FileBytes = up.id, true, up.size
	if err := s.store.SaveJob(ctx, job); errors.Is(err, errs.ErrDuplicate) {
		// A retry with the same idempotency key raced this one: answer with its job.
		s.store.DeleteJob(ctx, up.id)
		return s.store.JobByIdempotencyKey(ctx, r.IdempotencyKey)
	} else if err != nil {
		return identity.Job{}, err
	}
	s.jobQueued()
	return job, nil
}

package api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/usherid/usher/internal/identity"
)

// jobJSON is a job as Auth0 shows it, with Usher's counts and options added.
type jobJSON struct {
	ID              string                  `json:"id"`
	Type            string                  `json:"type"`
	Status          string                  `json:"status"`
	CreatedAt       string                  `json:"created_at"`
	ConnectionID    string                  `json:"connection_id,omitempty"`
	Connection      string                  `json:"connection,omitempty"`
	ExternalID      string                  `json:"external_id,omitempty"`
	PercentageDone  int                     `json:"percentage_done"`
	TimeLeftSeconds int                     `json:"time_left_seconds"`
	StatusDetails   string                  `json:"status_details,omitempty"`
	Summary         identity.JobSummary     `json:"summary"`
	Options         *identity.ImportOptions `json:"usher_options,omitempty"`
}

func toJobJSON(j identity.Job, now time.Time) jobJSON {
	out := jobJSON{ID: j.ID, Type: j.Type, Status: j.Status, CreatedAt: formatTime(j.CreatedAt), ConnectionID: j.ConnectionID,
		Connection: j.Connection, ExternalID: j.ExternalID, PercentageDone: j.PercentDone(), StatusDetails: j.StatusDetails,
		Summary: j.Summary}
	if j.Type == identity.JobUsersImport {
		opts := j.Options
		out.Options = &opts
		out.TimeLeftSeconds = int(j.TimeLeft(now).Seconds())
	}
	return out
}

// importParts are the multipart fields of POST /jobs/users-imports besides
// the file: Auth0's, then Usher's.
var importParts = map[string]func(r *identity.ImportRequest, v string) error{
	"connection_id":         func(r *identity.ImportRequest, v string) error { r.ConnectionID = v; return nil },
	"external_id":           func(r *identity.ImportRequest, v string) error { r.ExternalID = v; return nil },
	"upsert":                boolPart("upsert", func(r *identity.ImportRequest) *bool { return &r.Options.Upsert }),
	"send_completion_email": boolPart("send_completion_email", func(r *identity.ImportRequest) *bool { return &r.Options.SendCompletionEmail }),
	"invite":                boolPart("invite", func(r *identity.ImportRequest) *bool { return &r.Options.Invite }),
	"dry_run":               boolPart("dry_run", func(r *identity.ImportRequest) *bool { return &r.Options.DryRun }),
	"skip_existing":         boolPart("skip_existing", func(r *identity.ImportRequest) *bool { return &r.Options.SkipExisting }),
	"format":                func(r *identity.ImportRequest, v string) error { r.Options.Format = v; return nil },
	"result_url":            func(r *identity.ImportRequest, v string) error { r.Options.ResultURL = v; return nil },
	"ttl_sec": func(r *identity.ImportRequest, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return identity.Invalid("invalid_body", "ttl_sec must be a number of seconds.")
		}
		r.Options.TTLSec = n
		return nil
	},
}

func boolPart(name string, field func(*identity.ImportRequest) *bool) func(*identity.ImportRequest, string) error {
	return func(r *identity.ImportRequest, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return identity.Invalid("invalid_body", "%s must be true or false.", name)
		}
		*field(r) = b
		return nil
	}
}

// handleImportUsers streams the users file into the database as it arrives
// and answers 202 with the job, which a job runner then works through.
func handleImportUsers(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		key := r.Header.Get("Idempotency-Key")
		if key != "" {
			if j, err := ids.JobByIdempotencyKey(ctx, key); err == nil {
				writeJSON(w, http.StatusAccepted, toJobJSON(j, ids.Now()))
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, identity.MaxImportBytes)
		mr, err := r.MultipartReader()
		if err != nil {
			mgmtError(w, identity.Invalid("invalid_body", "Must provide 'users' file as multipart part."))
			return
		}
		req := identity.ImportRequest{IdempotencyKey: key}
		var upload string
		var size int64
		fail := func(err error) {
			if upload != "" {
				err = errors.Join(err, ids.DiscardUpload(ctx, upload))
			}
			mgmtError(w, err)
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			} else if err != nil {
				fail(identity.Invalid("invalid_body", "The multipart body is malformed: %v.", err))
				return
			}
			name := part.FormName()
			switch set, known := importParts[name]; {
			case name == "users" && upload == "":
				if identity.ImportFormat(part.FileName(), part.Header.Get("Content-Type")) == "csv" {
					req.Options.Format = "csv"
				}
				if upload, size, err = ids.UploadImport(ctx, part); err != nil {
					upload = "" // dropped already
					fail(err)
					return
				}
			case known:
				v, err := io.ReadAll(io.LimitReader(part, 4096))
				if err == nil {
					err = set(&req, strings.TrimSpace(string(v)))
				}
				if err != nil {
					fail(err)
					return
				}
			default:
				fail(identity.Invalid("invalid_body", "Unknown multipart part %q.", name))
				return
			}
		}
		if upload == "" {
			fail(identity.Invalid("invalid_body", "Must provide 'users' file as multipart part."))
			return
		}
		job, err := ids.FinishImport(ctx, upload, size, req)
		if err != nil {
			mgmtError(w, err) // FinishImport dropped the upload
			return
		}
		writeJSON(w, http.StatusAccepted, toJobJSON(job, ids.Now()))
	})
}

func handleGetJob(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		j, err := ids.Job(r.Context(), r.PathValue("id"))
		return toJobJSON(j, ids.Now()), err
	})
}

// handleJobErrors answers the failed rows, or 204 when there are none.
func handleJobErrors(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errs, err := ids.JobErrors(r.Context(), r.PathValue("id"))
		switch {
		case err != nil:
			mgmtError(w, err)
		case len(errs) == 0:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusOK, errs)
		}
	})
}

func handleVerificationEmailJob(ids *identity.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, in identity.VerificationEmailRequest) (any, error) {
		j, err := ids.VerificationEmailJob(r.Context(), in)
		return toJobJSON(j, ids.Now()), err
	})
}

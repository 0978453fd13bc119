package api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/imports"
	"github.com/usherid/usher/internal/web"
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
var importParts = map[string]func(r *imports.Request, v string) error{
	"connection_id":         func(r *imports.Request, v string) error { r.ConnectionID = v; return nil },
	"external_id":           func(r *imports.Request, v string) error { r.ExternalID = v; return nil },
	"upsert":                boolPart("upsert", func(r *imports.Request) *bool { return &r.Options.Upsert }),
	"send_completion_email": boolPart("send_completion_email", func(r *imports.Request) *bool { return &r.Options.SendCompletionEmail }),
	"invite":                boolPart("invite", func(r *imports.Request) *bool { return &r.Options.Invite }),
	"dry_run":               boolPart("dry_run", func(r *imports.Request) *bool { return &r.Options.DryRun }),
	"skip_existing":         boolPart("skip_existing", func(r *imports.Request) *bool { return &r.Options.SkipExisting }),
	"format":                func(r *imports.Request, v string) error { r.Options.Format = v; return nil },
	"result_url":            func(r *imports.Request, v string) error { r.Options.ResultURL = v; return nil },
	"ttl_sec": func(r *imports.Request, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errs.Invalid("invalid_body", "ttl_sec must be a number of seconds.")
		}
		r.Options.TTLSec = n
		return nil
	},
}

func boolPart(name string, field func(*imports.Request) *bool) func(*imports.Request, string) error {
	return func(r *imports.Request, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errs.Invalid("invalid_body", "%s must be true or false.", name)
		}
		*field(r) = b
		return nil
	}
}

// handleImportUsers hands the users file to the import service as it
// arrives and answers 202 with the job, which a job runner then works
// through. The upload may take as long as it keeps coming, with pauses of
// up to stall.
func handleImportUsers(imp *imports.Service, stall time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := idempotencyKey(r)
		if err != nil {
			mgmtError(w, err)
			return
		}
		r = web.Upload(w, r, imports.MaxFileBytes, stall)
		job, err := imp.Start(r.Context(), key, func(req *imports.Request, upload func(io.Reader) error) error {
			return readImportParts(r, req, upload)
		})
		if err != nil {
			mgmtError(w, err)
			return
		}
		web.WriteJSON(w, http.StatusAccepted, toJobJSON(job, imp.Now()))
	})
}

// readImportParts decodes the multipart parts of POST /jobs/users-imports
// into req, in the order they come, handing the users file to upload.
func readImportParts(r *http.Request, req *imports.Request, upload func(io.Reader) error) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return errs.Invalid("invalid_body", "Must provide 'users' file as multipart part.")
	}
	uploaded := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		} else if stalled, tooBig := new(*web.StalledError), new(*http.MaxBytesError); errors.As(err, stalled) || errors.As(err, tooBig) {
			return err // the body, not its form: mgmtError answers 408 or 413
		} else if err != nil {
			return errs.Invalid("invalid_body", "The multipart body is malformed: %v.", err)
		}
		name := part.FormName()
		switch set, known := importParts[name]; {
		case name == "users" && !uploaded:
			if imports.Format(part.FileName(), part.Header.Get("Content-Type")) == "csv" {
				req.Options.Format = "csv"
			}
			uploaded = true
			if err := upload(part); err != nil {
				return err
			}
		case known:
			v, err := io.ReadAll(io.LimitReader(part, 4096))
			if err == nil {
				err = set(req, strings.TrimSpace(string(v)))
			}
			if err != nil {
				return err
			}
		default:
			return errs.Invalid("invalid_body", "Unknown multipart part %q.", name)
		}
	}
}

func handleGetJob(imp *imports.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		j, err := imp.Job(r.Context(), r.PathValue("id"))
		return toJobJSON(j, imp.Now()), err
	})
}

// handleJobErrors answers the failed rows, or 204 when there are none.
func handleJobErrors(imp *imports.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errs, err := imp.JobErrors(r.Context(), r.PathValue("id"))
		switch {
		case err != nil:
			mgmtError(w, err)
		case len(errs) == 0:
			w.WriteHeader(http.StatusNoContent)
		default:
			web.WriteJSON(w, http.StatusOK, errs)
		}
	})
}

func handleVerificationEmailJob(ids *identity.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, in identity.VerificationEmailRequest) (any, error) {
		j, err := ids.VerificationEmailJob(r.Context(), in)
		return toJobJSON(j, ids.Now()), err
	})
}

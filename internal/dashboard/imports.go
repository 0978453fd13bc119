package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/imports"
	"github.com/usherid/usher/internal/web"
)

const (
	// importsShown is how many recent imports the import page lists.
	importsShown = 20
	// errorsShown is how many failed rows a job's page shows; the download
	// has them all.
	errorsShown = 10
	// refreshEvery is how often a running job's page asks for news, in
	// milliseconds (the script's poll; without script, a meta refresh).
	refreshEvery = 1000
)

// maxImportText is the bound on a users file, as the page says it.
var maxImportText = fmt.Sprintf("%d GB", imports.MaxFileBytes>>30)

// importData is the import page.
type importData struct {
	Connections []identity.Connection
	Jobs        []identity.Job
	Form        importForm
	MaxSize     string
}

// importForm is what the upload form holds: its defaults, or what was sent.
type importForm struct {
	ConnectionID           string
	Invite, Upsert, DryRun bool
}

// showImports renders the import page with form and, when there is one, a
// problem with what was sent.
func (d *Dashboard) showImports(w http.ResponseWriter, r *http.Request, s *session, status int, form importForm, problem string) {
	conns, err := d.ids.Connections(r.Context())
	if err != nil {
		d.fail(w, err)
		return
	}
	data := importData{Form: form, MaxSize: maxImportText}
	for _, c := range conns {
		if c.Strategy == "auth0" {
			data.Connections = append(data.Connections, c)
		}
	}
	if data.Form.ConnectionID == "" && len(data.Connections) > 0 {
		data.Form.ConnectionID = data.Connections[0].ID
	}
	if data.Jobs, err = d.imp.Jobs(r.Context(), importsShown); err != nil {
		d.fail(w, err)
		return
	}
	d.render(w, status, "import", s.view("Import", "import", problem, data))
}

func (d *Dashboard) imports() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		d.showImports(w, r, s, http.StatusOK, importForm{Invite: true}, "")
	})
}

// startImport hands the uploaded file to the import service as it arrives
// (never whole in memory) and sends the browser to the new job's page.
func (d *Dashboard) startImport() http.Handler {
	return d.upload(imports.MaxFileBytes, func(w http.ResponseWriter, r *http.Request, s *session, parts *multipart.Reader) {
		var form importForm
		job, err := d.imp.Start(r.Context(), "", func(req *imports.Request, upload func(io.Reader) error) error {
			return form.read(parts, req, upload)
		})
		// refuse shows the form again with msg; after a stalled upload
		// too, whose read error ended the request's context.
		refuse := func(status int, msg string) {
			d.showImports(w, r.WithContext(context.WithoutCancel(r.Context())), s, status, form, "Nothing was imported: "+msg)
		}
		var broken brokenUpload
		switch {
		case err == nil:
			d.redirect(w, r, "/import/"+url.PathEscape(job.ID), "")
		case errors.As(err, &broken):
			status, msg, known := uploadProblem(broken.err)
			if !known {
				web.Logger(r.Context(), d.log).Warn("an import upload broke off", "error", broken.err.Error())
			}
			refuse(status, msg)
		default:
			if _, msg, ok := d.problem(w, err); ok {
				refuse(http.StatusBadRequest, msg)
			}
		}
	})
}

// uploadProblem says why an upload did not arrive whole, for the page,
// with its status: past the size bound (413) or stopped (408), which are
// known; else it broke off (400), and the connection's error is worth a
// line in the log. A nil err is no problem, and not known.
func uploadProblem(err error) (status int, msg string, known bool) {
	var stalled *web.StalledError
	switch {
	case err == nil:
		return 0, "", false
	case errors.As(err, new(*http.MaxBytesError)):
		return http.StatusRequestEntityTooLarge, "the file is larger than " + maxImportText + ". Split it, or import it with the usher import command.", true
	case errors.As(err, &stalled):
		return http.StatusRequestTimeout, "the upload stopped: nothing arrived for " + stalled.Stall.String() + ". Try again.", true
	}
	return http.StatusBadRequest, "the upload did not arrive whole. Try again.", false
}

// errNoFile refuses an upload form sent without a file.
var errNoFile = errs.Invalid("invalid_body", "choose a users file (Auth0's JSON, or CSV).")

// read decodes the upload form's parts into f and req, handing the chosen
// file to upload as it arrives.
func (f *importForm) read(parts *multipart.Reader, req *imports.Request, upload func(io.Reader) error) error {
	uploaded := false
	for {
		part, err := parts.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			return brokenUpload{err}
		}
		switch name := part.FormName(); name {
		case "users":
			if part.FileName() == "" || uploaded {
				continue // no file chosen; or a second file, which the form never sends
			}
			uploaded = true
			req.Options.Format = imports.Format(part.FileName(), "")
			req.ExternalID = clip(part.FileName(), 255) // which file it was, for the list
			if err := upload(partReader{part}); err != nil {
				return err
			}
		case "connection_id", "invite", "upsert", "dry_run":
			v, err := io.ReadAll(io.LimitReader(partReader{part}, 4096))
			if err != nil {
				return err
			}
			switch value := strings.TrimSpace(string(v)); name {
			case "connection_id":
				f.ConnectionID = value
			case "invite":
				f.Invite = value == "on"
			case "upsert":
				f.Upsert = value == "on"
			case "dry_run":
				f.DryRun = value == "on"
			}
		}
	}
	if !uploaded {
		return errNoFile
	}
	req.ConnectionID = f.ConnectionID
	// As the command line does: people who have an account already are
	// skipped, not failed rows, unless upsert updates them.
	req.Options.Invite, req.Options.Upsert, req.Options.DryRun, req.Options.SkipExisting = f.Invite, f.Upsert, f.DryRun, true
	return nil
}

// brokenUpload is an upload form that could not be read to its end: the
// connection's error, or the size bound's.
type brokenUpload struct{ err error }

func (b brokenUpload) Error() string { return "the upload broke off: " + b.err.Error() }

// partReader reads a part of the upload form, telling its read errors as
// a broken upload, apart from a failure to store what was read.
type partReader struct{ part io.Reader }

func (p partReader) Read(b []byte) (int, error) {
	n, err := p.part.Read(b)
	if err != nil && err != io.EOF {
		err = brokenUpload{err}
	}
	return n, err
}

// clip shortens s to at most n bytes without cutting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// jobData is an import job's page.
type jobData struct {
	Job      identity.Job
	Percent  int
	TimeLeft string
	// Errors are the first failed rows; MoreErrors says there are others.
	Errors       []identity.JobError
	MoreErrors   bool
	RefreshEvery int
}

// importJob returns an import job, or a not-found error for any other id.
func (d *Dashboard) importJob(r *http.Request) (identity.Job, error) {
	job, err := d.imp.Job(r.Context(), r.PathValue("id"))
	if err == nil && job.Type != identity.JobUsersImport {
		return identity.Job{}, errs.NotFound("inexistent_job", "There is no such import.")
	}
	return job, err
}

func (d *Dashboard) importStatus() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		job, err := d.importJob(r)
		if err != nil {
			d.showError(w, s, err)
			return
		}
		data := jobData{Job: job, Percent: job.PercentDone(), RefreshEvery: refreshEvery}
		if !job.Done() {
			data.TimeLeft = "working it out"
			if left := job.TimeLeft(d.ids.Now()); left > 0 {
				data.TimeLeft = "about " + roughly(left)
			}
		}
		if job.Summary.Failed > 0 {
			if data.Errors, err = d.imp.FirstJobErrors(r.Context(), job.ID, errorsShown); err != nil {
				d.showError(w, s, err)
				return
			}
			data.MoreErrors = job.Summary.Failed > int64(len(data.Errors))
		}
		title := "Import " + job.ID
		if job.ExternalID != "" {
			title = "Import of " + job.ExternalID
		}
		d.render(w, http.StatusOK, "job", s.view(title, "import", "", data))
	})
}

// importErrors serves every failed row of a job as a JSON file, in the
// shape of GET /api/v2/jobs/{id}/errors (an empty list when none failed).
func (d *Dashboard) importErrors() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		job, err := d.importJob(r)
		if err != nil {
			d.showError(w, s, err)
			return
		}
		errs, err := d.imp.JobErrors(r.Context(), job.ID)
		if err != nil {
			d.showError(w, s, err)
			return
		}
		if errs == nil {
			errs = []identity.JobError{}
		}
		body, err := json.Marshal(errs)
		if err != nil {
			d.fail(w, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Disposition", `attachment; filename="`+job.ID+`-errors.json"`)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(append(body, '\n'))
	})
}

package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/usherid/usher/internal/identity"
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
var maxImportText = fmt.Sprintf("%d GB", identity.MaxImportBytes>>30)

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
	if data.Jobs, err = d.ids.ImportJobs(r.Context(), importsShown); err != nil {
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

// startImport streams the uploaded file into the database as it arrives
// (never whole in memory), makes it a pending job for the job runner and
// sends the browser to the job's page.
func (d *Dashboard) startImport() http.Handler {
	return d.upload(identity.MaxImportBytes, func(w http.ResponseWriter, r *http.Request, s *session, parts *multipart.Reader) {
		ctx := r.Context()
		var form importForm
		var req identity.ImportRequest
		var upload string
		var size int64
		// refuse shows the form again with msg, dropping the upload.
		refuse := func(msg string) {
			if upload != "" {
				if err := d.ids.DiscardUpload(ctx, upload); err != nil {
					d.log.Error("drop an import upload", "error", err.Error())
				}
			}
			d.showImports(w, r, s, http.StatusBadRequest, form, "Nothing was imported: "+msg)
		}
		// broken refuses an upload that could not be read to its end.
		broken := func(err error) {
			if errors.As(err, new(*http.MaxBytesError)) {
				refuse("the file is larger than " + maxImportText + ". Split it, or import it with the usher import command.")
				return
			}
			d.log.Warn("an import upload broke off", "error", err.Error())
			refuse("the upload did not arrive whole. Try again.")
		}
		for {
			part, err := parts.NextPart()
			if err == io.EOF {
				break
			} else if err != nil {
				broken(err)
				return
			}
			switch name := part.FormName(); name {
			case "users":
				if part.FileName() == "" || upload != "" {
					continue // no file chosen; or a second file, which the form never sends
				}
				req.Options.Format = identity.ImportFormat(part.FileName(), "")
				req.ExternalID = clip(part.FileName(), 255) // which file it was, for the list
				file := &bodyReader{r: part}
				if upload, size, err = d.ids.UploadImport(ctx, file); err != nil {
					upload = "" // dropped already
					if file.err != nil {
						broken(file.err)
					} else if _, msg, ok := d.problem(w, err); ok {
						refuse(msg)
					}
					return
				}
			case "connection_id", "invite", "upsert", "dry_run":
				v, err := io.ReadAll(io.LimitReader(part, 4096))
				if err != nil {
					broken(err)
					return
				}
				switch value := strings.TrimSpace(string(v)); name {
				case "connection_id":
					form.ConnectionID = value
				case "invite":
					form.Invite = value == "on"
				case "upsert":
					form.Upsert = value == "on"
				case "dry_run":
					form.DryRun = value == "on"
				}
			}
		}
		if upload == "" {
			refuse("choose a users file (Auth0's JSON, or CSV).")
			return
		}
		req.ConnectionID = form.ConnectionID
		// As the command line does: people who have an account already are
		// skipped, not failed rows, unless upsert updates them.
		req.Options.Invite, req.Options.Upsert, req.Options.DryRun, req.Options.SkipExisting = form.Invite, form.Upsert, form.DryRun, true
		job, err := d.ids.FinishImport(ctx, upload, size, req)
		if err != nil {
			upload = "" // FinishImport dropped it
			if _, msg, ok := d.problem(w, err); ok {
				refuse(msg)
			}
			return
		}
		d.redirect(w, r, "/import/"+url.PathEscape(job.ID), "")
	})
}

// bodyReader reads an uploaded part and keeps its read error, which is the
// connection's (or the size bound's), to tell it from a failure to store.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
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
	job, err := d.ids.Job(r.Context(), r.PathValue("id"))
	if err == nil && job.Type != identity.JobUsersImport {
		return identity.Job{}, identity.NotFound("inexistent_job", "There is no such import.")
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
			if data.Errors, err = d.ids.FirstJobErrors(r.Context(), job.ID, errorsShown); err != nil {
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
		errs, err := d.ids.JobErrors(r.Context(), job.ID)
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

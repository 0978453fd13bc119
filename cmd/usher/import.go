package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/imports"
)

var importCommand = command{name: "import",
	usage: "import [--db DSN | --url URL --client-id ID --client-secret SECRET] [--connection NAME] [--invite] [--upsert] [--dry-run] FILE",
	about: `Imports users from FILE: Auth0's bulk-import JSON (.json, an array of user
objects) or CSV (.csv) with a header row naming the same fields, where an
app_metadata or user_metadata cell holds JSON in double quotes with its own
quotes doubled ("{""team"":""core""}") and app_metadata.KEY columns set one
key. Users who exist already are skipped, or updated with --upsert; --invite
invites everyone imported without a password; --dry-run checks every row and
writes nothing. It ends with a summary and the failed rows, all of them with
their lines and reasons in FILE.errors.json. The same file with the same
options is the same import: run the command again after a crash or Ctrl-C and
it goes on where it stopped.`}

func importUsers(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := importCommand
	fs := c.flags()
	where := bindTarget(fs, getenv)
	connection := fs.String("connection", "Username-Password-Authentication", "the database connection to import into")
	opts := identity.ImportOptions{SkipExisting: true}
	fs.BoolVar(&opts.Invite, "invite", false, "invite every imported user who has no password")
	fs.BoolVar(&opts.Upsert, "upsert", false, "update users who exist already (matched by email) instead of skipping them")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "check every row and report, writing nothing")
	fs.StringVar(&opts.ResultURL, "result-url", "", "with --invite: where people land after setting their password")
	ttl := fs.Duration("ttl", 0, "with --invite: how long the links live (default: the reset_email template's link lifetime, 5 days unless changed), e.g. 72h")
	report := fs.String("errors", "", "where to write the failed rows (default FILE.errors.json)")
	if err := c.parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return c.usageErr("name one users file")
	}
	path := fs.Arg(0)
	opts.TTLSec = int(ttl.Seconds())
	opts.Format = imports.Format(path, "")
	if *report == "" {
		*report = path + ".errors.json"
	}
	remote, err := where.remote(c, fs)
	if err != nil {
		return err
	}
	if opts.Invite && !opts.DryRun {
		where.warnNoPublicURL(remote, stderr)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	key, size, err := importKey(f, *connection, opts)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	bar := newBar(stdout, size)
	var job identity.Job
	var failed []identity.JobError
	if remote {
		job, failed, err = importRemote(ctx, where, f, filepath.Base(path), *connection, key, opts, bar)
	} else {
		job, failed, err = importLocal(ctx, where, f, size, *connection, key, opts, bar, stderr)
	}
	if bar != nil {
		bar.Finish()
	}
	if job.ID != "" || opts.DryRun {
		fmt.Fprintln(stdout, summaryLine(job.Summary, opts.DryRun))
	}
	if len(failed) > 0 {
		if werr := writeReport(*report, failed); werr != nil {
			return errors.Join(err, werr)
		}
		reportFailures(stderr, failed, opts.Format, *report)
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("import: stopped after row %d; run the same command again to go on from there", job.RowsDone)
	case err != nil:
		return fmt.Errorf("import: %w", err)
	case job.Status == identity.JobFailed:
		return fmt.Errorf("import: %s", job.StatusDetails)
	case len(failed) > 0:
		if len(failed) == 1 {
			return errors.New("import: 1 row failed")
		}
		return fmt.Errorf("import: %d rows failed", len(failed))
	}
	return nil
}

// summaryLine is the import's last line: what it did, or for a dry run
// what it would do, all of it in the same tense.
func summaryLine(sum identity.JobSummary, dryRun bool) string {
	if dryRun {
		return fmt.Sprintf("dry run, nothing written: would create %d, update %d, invite %d, skip %d (already have an account), fail %d, of %d rows",
			sum.Inserted, sum.Updated, sum.Invited, sum.Skipped, sum.Failed, sum.Total)
	}
	return fmt.Sprintf("created %d, updated %d, invited %d, skipped %d (already have an account), failed %d, of %d rows",
		sum.Inserted, sum.Updated, sum.Invited, sum.Skipped, sum.Failed, sum.Total)
}

// shownFailures is how many failed rows the terminal shows; the report
// file holds them all.
const shownFailures = 5

// reportFailures tells on the terminal what went wrong with the rows: how
// many failed for each reason, the first few of them with where they are,
// and the file that lists them all.
func reportFailures(w io.Writer, failed []identity.JobError, format, report string) {
	counts := map[string]int{}
	var codes []string
	for _, f := range failed {
		for _, e := range f.Errors {
			if counts[e.Code] == 0 {
				codes = append(codes, e.Code)
			}
			counts[e.Code]++
		}
	}
	byCode := make([]string, len(codes))
	for i, code := range codes {
		byCode[i] = fmt.Sprintf("%s %d", code, counts[code])
	}
	rows := "rows"
	if len(failed) == 1 {
		rows = "row"
	}
	fmt.Fprintf(w, "%d %s failed (%s):\n", len(failed), rows, strings.Join(byCode, ", "))
	for i, f := range failed {
		if i == shownFailures {
			fmt.Fprintf(w, "  … and %d more\n", len(failed)-shownFailures)
			break
		}
		for _, e := range f.Errors {
			where := fmt.Sprintf("line %d", f.Line)
			if e.Path != "" {
				where += ", " + e.Path
			}
			fmt.Fprintf(w, "  %s: %s %s%s\n", where, e.Code, e.Message, csvHint(format, e))
		}
	}
	fmt.Fprintf(w, "Every failed row is listed with its line and reasons in %s\n", report)
}

// csvHint says how to write a metadata cell of a CSV file when the row
// failed because the cell was not JSON.
func csvHint(format string, e identity.FieldError) string {
	top, _, _ := strings.Cut(e.Path, ".")
	if format != "csv" || e.Code != "INVALID_TYPE" || (top != "app_metadata" && top != "user_metadata") {
		return ""
	}
	return ` (in CSV, the ` + top + ` cell must hold a JSON object in double quotes, its own quotes doubled: "{""team"":""core""}")`
}

// importKey names this import of this file: the same file with the same
// options is the same import, so running the command again resumes it.
func importKey(f *os.File, connection string, opts identity.ImportOptions) (string, int64, error) {
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	o, _ := json.Marshal(opts)
	fmt.Fprintf(h, "\x00%s\x00%s", connection, o)
	return "usher-import:" + hex.EncodeToString(h.Sum(nil))[:40], size, nil
}

// newBar is a progress bar on a terminal, and nothing in a pipe.
func newBar(stdout io.Writer, max int64) *progressbar.ProgressBar {
	f, ok := stdout.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(max, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowBytes(true), progressbar.OptionClearOnFinish())
}

// importLocal imports straight into the database. The job is stored, so
// the same command started again after a crash goes on where it stopped.
func importLocal(ctx context.Context, where *target, f *os.File, size int64, connection, key string, opts identity.ImportOptions, bar *progressbar.ProgressBar, stderr io.Writer) (identity.Job, []identity.JobError, error) {
	svc, closeDB, err := where.open(ctx, "import")
	if err != nil {
		return identity.Job{}, nil, err
	}
	defer closeDB()
	if prev, err := svc.imports.JobByIdempotencyKey(ctx, key); err == nil && !opts.DryRun {
		if prev.Done() {
			fmt.Fprintf(stderr, "this file was imported already, with the same options, at %s (job %s); here is what that import did\n", prev.UpdatedAt.Format(time.RFC3339), prev.ID)
		} else {
			fmt.Fprintf(stderr, "going on with the import of this file that stopped after row %d (job %s)\n", prev.RowsDone, prev.ID)
		}
	}
	var dryFailed []identity.JobError
	progress := func(job identity.Job, failed []identity.JobError) {
		if bar != nil {
			bar.Set64(job.BytesDone)
		}
		if opts.DryRun {
			dryFailed = append(dryFailed, failed...)
		}
	}
	var job identity.Job
	for waiting := false; ; waiting = true {
		job, err = svc.imports.RunFile(ctx, imports.Request{Connection: connection, IdempotencyKey: key, Options: opts}, f, size, progress)
		if errs.KindOf(err) != errs.KindConflict {
			break
		}
		// Another run holds the import: a live one elsewhere, or one that
		// was killed, whose lease runs out within a minute.
		if !waiting {
			fmt.Fprintf(stderr, "another run holds this import (one that was killed lets go within a minute); waiting for it\n")
		}
		select {
		case <-ctx.Done():
			return identity.Job{}, nil, err
		case <-time.After(time.Second):
		}
	}
	if opts.DryRun || job.ID == "" {
		return job, dryFailed, err
	}
	// The errors of this run and of any run it resumed.
	failed, ferr := svc.imports.JobErrors(context.WithoutCancel(ctx), job.ID)
	return job, failed, errors.Join(err, ferr)
}

// importRemote uploads the file as an import job and follows it. The
// upload carries the import's key, so running the command again follows
// the same job rather than starting another.
func importRemote(ctx context.Context, where *target, f *os.File, name, connection, key string, opts identity.ImportOptions, bar *progressbar.ProgressBar) (identity.Job, []identity.JobError, error) {
	api, err := where.dial(ctx, "import")
	if err != nil {
		return identity.Job{}, nil, err
	}
	var conns []struct{ ID, Name string }
	if _, err := api.do(ctx, "GET", "/api/v2/connections?name="+connection, nil, nil, &conns); err != nil {
		return identity.Job{}, nil, err
	}
	if len(conns) != 1 || conns[0].Name != connection {
		return identity.Job{}, nil, fmt.Errorf("there is no connection named %q", connection)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fields := map[string]string{"connection_id": conns[0].ID, "upsert": strconv.FormatBool(opts.Upsert), "invite": strconv.FormatBool(opts.Invite),
			"dry_run": strconv.FormatBool(opts.DryRun), "skip_existing": "true", "format": opts.Format, "send_completion_email": "false"}
		if opts.ResultURL != "" {
			fields["result_url"] = opts.ResultURL
		}
		if opts.TTLSec != 0 {
			fields["ttl_sec"] = strconv.Itoa(opts.TTLSec)
		}
		var err error
		for k, v := range fields {
			if err == nil {
				err = mw.WriteField(k, v)
			}
		}
		if err == nil {
			var part io.Writer
			if part, err = mw.CreateFormFile("users", name); err == nil {
				_, err = io.Copy(part, f)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	var job jobView
	_, err = api.do(ctx, "POST", "/api/v2/jobs/users-imports", pr, http.Header{"Content-Type": {mw.FormDataContentType()}, "Idempotency-Key": {key}}, &job)
	pr.Close()
	if err != nil {
		return identity.Job{}, nil, err
	}
	for job.Status == identity.JobPending {
		select {
		case <-ctx.Done():
			return job.job(), nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		if _, err := api.do(ctx, "GET", "/api/v2/jobs/"+job.ID, nil, nil, &job); err != nil {
			return job.job(), nil, err
		}
		if bar != nil {
			bar.Set64(bar.GetMax64() * int64(job.PercentageDone) / 100)
		}
	}
	var failed []identity.JobError
	_, err = api.do(ctx, "GET", "/api/v2/jobs/"+job.ID+"/errors", nil, nil, &failed)
	return job.job(), failed, err
}

// jobView is a job as the Management API shows it.
type jobView struct {
	ID             string              `json:"id"`
	Status         string              `json:"status"`
	PercentageDone int                 `json:"percentage_done"`
	StatusDetails  string              `json:"status_details"`
	Summary        identity.JobSummary `json:"summary"`
}

func (v jobView) job() identity.Job {
	return identity.Job{ID: v.ID, Status: v.Status, StatusDetails: v.StatusDetails, Summary: v.Summary}
}

// writeReport writes the failed rows as the errors endpoint shows them.
func writeReport(path string, failed []identity.JobError) error {
	b, err := json.MarshalIndent(failed, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

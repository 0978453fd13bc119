package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/api"
	"github.com/usherid/usher/internal/config"
	"github.com/usherid/usher/internal/dashboard"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/imports"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/pages"
	"github.com/usherid/usher/internal/secretbox"
	"github.com/usherid/usher/internal/store"
)

var serveCommand = command{name: "serve", usage: "serve [flags]",
	about: `Runs the server: the Management and Authentication APIs, the hosted login
and password pages, the dashboard at /dashboard/ and the outbox worker that
delivers mail. It migrates the database and creates the tenant's defaults
first. On the first start it creates a Management API client and prints its
credentials once; with no SMTP server configured, mail waits in the outbox,
readable in the dashboard. Every flag has an environment variable, named in
its description; a flag wins over its variable.`}

// clock is the time the server decides by: when tickets, invitations,
// authorization codes, tokens and sessions expire, when a signing key is read
// again, when mail is due and when a delivery window ends. main passes
// systemClock; a test passes one it moves forward instead of sleeping.
// It is mail.Clock: the outbox worker waits on it too.
type clock = mail.Clock

// systemClock is the real time.
type systemClock = mail.SystemClock

// timeouts bound how long the server waits on its clients.
type timeouts struct {
	readHeader, read, write, idle time.Duration
	// uploadStall bounds a pause in an import upload, whose body read
	// has no overall bound: a file of up to 1 GB on a slow link may take
	// hours, as long as it keeps coming.
	uploadStall time.Duration
}

// serveTimeouts are the bounds `usher serve` holds its clients to; a test
// of those bounds starts the server with shorter ones.
func serveTimeouts() timeouts {
	return timeouts{readHeader: 10 * time.Second, read: 60 * time.Second, write: 60 * time.Second, idle: 120 * time.Second,
		uploadStall: 30 * time.Second}
}

func serve(ctx context.Context, args []string, getenv func(string) string, clk clock, tmo timeouts, stdout, stderr io.Writer) error {
	c := serveCommand
	fs := c.flags()
	cfg := config.BindServe(fs, getenv)
	if err := c.parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if err := cfg.Finish(); err != nil {
		return c.usageErr("%v", err)
	}
	log := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)

	// Everything that can be checked without touching the database is
	// checked first, and the address is taken before anything is created:
	// a start that fails here leaves no trace, and the bootstrap client's
	// secret is only ever made by a start that goes on to print it.
	var envSMTP *mail.SMTP
	if cfg.SMTPURL != "" {
		smtp, err := mail.ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return c.usageErr("%v", err)
		}
		envSMTP = &smtp
	}
	var tlsConfig *tls.Config
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("--tls-cert %s and --tls-key %s: %w", cfg.TLSCertFile, cfg.TLSKeyFile, err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: the address is in use (is another usher serve running?); stop that program or choose another address with --addr", cfg.Addr)
		}
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

	db, box, err := openSealed(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	var worker *mail.Worker
	var jobs *imports.Runner
	reg := prometheus.NewRegistry()
	svc := newServices(db, box, clk.Now, cfg.PublicURL, cfg.MailFrom, envSMTP, func() { worker.Notify() }, func() { jobs.Notify() },
		actions.Options{Memory: uint64(cfg.ActionMemoryMB) << 20}, newMetrics(reg).hooks())
	if err := sealPlaintext(ctx, db, svc.mails, log); err != nil {
		return err
	}
	worker = mail.NewWorker(db, svc.mails.Transport, log)
	jobs = imports.NewRunner(svc.imports, func(err error) { log.Error("import job", "error", err) })
	worker.Rate = mail.PerMinute(cfg.MailRate)
	worker.Clock = clk
	worker.Drain = stopGrace
	ids, mails, acts, engine := svc.ids, svc.mails, svc.acts, svc.engine
	keys, err := oauth.NewKeys(ctx, db, issuerHost(cfg.PublicURL), clk.Now)
	if err != nil {
		return err
	}
	tokens := oauth.NewServer(oauth.Options{Identity: ids, Keys: keys, Store: db, Issuer: cfg.Issuer(), Actions: acts, Now: clk.Now})
	dash := dashboard.New(dashboard.Options{Identity: ids, Imports: svc.imports, OAuth: tokens, Mail: mails, Actions: acts,
		WakeOutbox: worker.Notify, PublicURL: cfg.PublicURL, Links: api.Links{Base: cfg.PublicURL}, Log: log, UploadStall: tmo.uploadStall})
	if err := dash.Start(ctx); err != nil {
		return err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerMailRate(reg, worker, cfg.MailRate)
	registerPasswordHashing(reg, ids)
	registerMailDeliveries(reg, worker)
	reg.MustRegister(newOutboxCollector(db, clk.Now))
	handler := api.NewServer(api.Deps{
		Identity:    ids,
		Imports:     svc.imports,
		OAuth:       tokens,
		Mail:        mails,
		Pages:       pages.New(ids, tokens, db, engine, cfg.PublicURL, log),
		Actions:     acts,
		WakeOutbox:  worker.Notify,
		Dashboard:   dash.Handler(),
		Logger:      log,
		Proxies:     cfg.TrustedProxies,
		Metrics:     reg,
		Ready:       db.Ping,
		UploadStall: tmo.uploadStall,
	})
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: tmo.readHeader,
		ReadTimeout:       tmo.read,
		WriteTimeout:      tmo.write,
		IdleTimeout:       tmo.idle,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	mailTo, err := mailDestination(ctx, mails)
	if err != nil {
		return err
	}
	// The last step before serving: nothing after it can fail, so a
	// secret made here is always printed.
	boot, err := ids.Bootstrap(ctx, identity.Bootstrap{ClientID: cfg.BootstrapClientID, ClientSecret: cfg.BootstrapClientSecret})
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "Usher is listening on %s://%s (public URL %s, database %s)\n", scheme, ln.Addr(), cfg.PublicURL, db.Engine())
	fmt.Fprintf(stdout, "Dashboard: %s/dashboard/ (make an administrator with: usher admin invite --db %s --public-url %s EMAIL)\n",
		cfg.PublicURL, shellWord(store.Redact(cfg.DB)), cfg.PublicURL)
	fmt.Fprintf(stdout, "Mail: %s\n", mailTo)
	switch {
	case boot.ClientSecret != "":
		fmt.Fprintf(stdout, "Created the Management API client (shown once, keep the secret safe):\n  client_id:     %s\n  client_secret: %s\n  audience:      %s\n",
			boot.ClientID, boot.ClientSecret, cfg.ManagementAudience())
		// The README's tour starts by pasting this line into a shell.
		fmt.Fprintf(stdout, "  in a shell:    export USHER=%s CLIENT_ID=%s CLIENT_SECRET=%s\n", shellWord(cfg.PublicURL), boot.ClientID, shellWord(boot.ClientSecret))
	case cfg.BootstrapClientSecret == "":
		// The secret was shown when the client was made, and only its hash
		// is kept: say how to get a new one rather than nothing.
		fmt.Fprintf(stdout, "Management API client %s: its secret was shown once, when it was made; for a new one run: usher clients rotate-secret --db %s (or set USHER_BOOTSTRAP_CLIENT_ID and USHER_BOOTSTRAP_CLIENT_SECRET)\n",
			boot.ClientID, shellWord(store.Redact(cfg.DB)))
	}
	log.Info("serving", "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "database", string(db.Engine()),
		"mail_rate_per_minute", cfg.MailRate)

	// Background work stops in two steps: the outbox worker and the import
	// runner as soon as shutdown begins (each ends the batch it is on), the
	// sender of password-change links once the last request is answered,
	// as a request may still hand it work.
	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	changes, stopChanges := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	workers.Go(func() { worker.Run(background) })
	workers.Go(func() { jobs.Run(background) })
	workers.Go(func() {
		ids.RunPasswordChanges(changes, func(err error) { log.Error("password-change request", "error", err) })
	})
	workersDone := make(chan struct{})
	go func() {
		workers.Wait()
		close(workersDone)
	}()
	// stopWorkers stops them all and waits until stopBy at most. The
	// database closes (deferred above) only after the workers are done with
	// it, or once they had their time.
	stopBy := time.Time{}
	stopWorkers := sync.OnceFunc(func() {
		stopBackground()
		stopChanges()
		if stopBy.IsZero() {
			stopBy = time.Now().Add(stopGrace + stopRecord)
		}
		select {
		case <-workersDone:
		case <-time.After(time.Until(stopBy)):
			log.Warn("stopped with background work under way: its unrecorded mails are sent again once their lease lapses, and its import resumes from its last batch")
		}
	})
	defer stopWorkers()

	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate is in srv.TLSConfig
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("stopping: no new connections; finishing the requests and batches under way", "within", stopGrace.String())
	stopBy = time.Now().Add(stopGrace + stopRecord)
	stopBackground()
	shutdown, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		// What is still running is cut off: its transaction, if any, is
		// rolled back or committed whole, never half.
		log.Warn("requests still running when the time to stop ran out were cut off", "error", err.Error())
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	stopWorkers()
	log.Info("stopped")
	return nil
}

// stopGrace is how long a stopping server lets the requests under way, and
// the outbox worker's batch, run on; stopRecord is the time the workers then
// have to record what they did. Together they stay under the 30 seconds
// orchestrators usually wait before they kill a process.
const (
	stopGrace  = 20 * time.Second
	stopRecord = 5 * time.Second
)

// registerMailRate exposes the delivery cap on /metrics: what it is, how
// much of the current window is used, and what it holds back.
func registerMailRate(reg *prometheus.Registry, worker *mail.Worker, perMinute int) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "usher_mail_rate_limit", Help: "The mail delivery cap in mails per minute, every instance together (USHER_MAIL_RATE); 0: no cap.",
		}, func() float64 { return float64(perMinute) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "usher_mail_rate_window_claimed", Help: "Mails every instance claimed for delivery in the cap's current window, as this instance last saw.",
		}, func() float64 { return float64(worker.RateStatus().Claimed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "usher_mail_rate_waits_total", Help: "Times this instance's outbox worker found the cap used up and waited for the next window.",
		}, func() float64 { return float64(worker.RateStatus().Waits) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "usher_mail_rate_held", Help: "Mails due but held back by the cap until the next window, counted when scraped; 0 while this instance's worker is not waiting for one.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n, err := worker.Held(ctx)
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		}),
	)
}

// registerPasswordHashing exposes on /metrics how busy the bounded password
// hashing is: a rising refused count means logins were answered 429.
func registerPasswordHashing(reg *prometheus.Registry, ids *identity.Service) {
	stat := func(f func(identity.PasswordStats) float64) func() float64 {
		return func() float64 { return f(ids.PasswordStats()) }
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "usher_password_hash_slots", Help: "Password hashes this instance runs at once at most."},
			stat(func(s identity.PasswordStats) float64 { return float64(s.Slots) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "usher_password_hash_waiting", Help: "Password hashes waiting for a slot."},
			stat(func(s identity.PasswordStats) float64 { return float64(s.Waiting) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "usher_password_hashes_total", Help: "Password hashes computed or checked, stand-ins for missing hashes included."},
			stat(func(s identity.PasswordStats) float64 { return float64(s.Hashes) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "usher_password_hashes_refused_total", Help: "Requests answered 429 because every hashing slot was busy and the queue full or too slow."},
			stat(func(s identity.PasswordStats) float64 { return float64(s.Refused) })),
	)
}

var migrateCommand = command{name: "migrate", usage: "migrate [--db DSN]",
	about: `Applies the database migrations this version of Usher needs and exits.
"usher serve" does the same at every start; run this before starting several
instances of a new version at once, or to prepare a database ahead of time.`}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := migrateCommand
	fs := c.flags()
	dsn := config.BindDB(fs, getenv)
	if err := c.parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	db, err := store.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Migrations applied (%s).\n", db.Engine())
	return nil
}

func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// services are Usher's domain services over one database, as `usher serve`
// and the commands that work on the database directly wire them.
type services struct {
	engine  *mail.Engine
	mails   *mail.Service
	acts    *actions.Service
	ids     *identity.Service
	imports *imports.Service
}

// newServices wires the domain; box seals secrets at rest (nil for the
// commands that never read nor write them); now tells the time; mailQueued
// is told when a transaction queued mail, jobQueued when an import job is
// ready to run; acts bounds Actions.
func newServices(db *store.DB, box *secretbox.Box, now func() time.Time, publicURL, mailFrom string, envSMTP *mail.SMTP, mailQueued, jobQueued func(), acts actions.Options, hooks serviceHooks) *services {
	acts.Ran = hooks.actionRan
	s := &services{engine: mail.NewEngine(), acts: actions.NewService(db, acts)}
	s.mails = mail.NewService(db, s.engine, mailFrom, envSMTP, box)
	s.ids = identity.NewService(db, identity.Options{PublicURL: publicURL, Links: api.Links{Base: publicURL}, Now: now, Composer: s.mails, CheckLiquid: s.engine.Check,
		MailQueued: mailQueued, Passwords: identity.NewPasswords(identity.PasswordLimits{Waited: hooks.passwordWait}), Trigger: func(ctx context.Context, trigger string, event map[string]any) (identity.TriggerOutcome, error) {
			out, err := s.acts.Run(ctx, trigger, event)
			return identity.TriggerOutcome{AppMetadata: out.AppMetadata, UserMetadata: out.UserMetadata, Denied: out.Denied}, err
		}})
	s.imports = imports.NewService(db, s.ids, imports.Options{MailQueued: mailQueued, JobQueued: jobQueued, Written: hooks.importWritten, Now: now})
	return s
}

// mailDestination says where mail goes, for the lines printed at start: the
// SMTP server in use (the email provider's, which wins, or USHER_SMTP_URL's),
// or the outbox, where mail waits when there is none.
func mailDestination(ctx context.Context, mails *mail.Service) (string, error) {
	tr, err := mails.Transport(ctx)
	if err != nil {
		return "", fmt.Errorf("email provider: %w", err)
	}
	if s, ok := tr.(mail.SMTP); ok {
		from := "USHER_SMTP_URL"
		if p, err := mails.EmailProvider(ctx); err == nil && p.Name != "" {
			from = "the email provider set in the dashboard or the API"
		}
		return fmt.Sprintf("sent through the SMTP server %s (%s)", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), from), nil
	}
	mailbox, err := mails.Mailbox(ctx)
	if err != nil {
		return "", err
	}
	if !mailbox {
		return "the email provider is disabled: mail waits in the outbox (dashboard → Outbox)", nil
	}
	return "no SMTP configured: mail waits in the outbox (dashboard → Outbox)", nil
}

// shellWord is s as one word of a shell command line: as it is when that is
// safe, else in single quotes.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

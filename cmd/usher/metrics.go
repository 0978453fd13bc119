package main

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/outbox"
	"github.com/usherid/usher/internal/store"
)

// metrics are what `usher serve` counts for /metrics as the work happens:
// the domain services report to it through their options' hooks
// (serviceHooks), so that they know nothing of Prometheus.
type metrics struct {
	importRows   *prometheus.CounterVec
	actionRuns   *prometheus.CounterVec
	actionTime   *prometheus.HistogramVec
	passwordWait prometheus.Histogram
}

// newMetrics makes the counters and registers them on reg.
func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		importRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usher_import_rows_total",
			Help: "Rows of users imports this instance stored, by result: inserted, updated, skipped, failed; invited counts the inserted or updated rows that were also invited.",
		}, []string{"result"}),
		actionRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usher_action_runs_total",
			Help: "Runs of a trigger's Actions, by trigger and result: ok, denied, error, timeout, memory, busy (no slot free).",
		}, []string{"trigger", "result"}),
		actionTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "usher_action_run_duration_seconds",
			Help:    "How long a trigger's Actions took to run, waiting for a slot included, by trigger.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}, []string{"trigger"}),
		passwordWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "usher_password_hash_wait_seconds",
			Help:    "How long password hashes waited for a hashing slot (0 when one was free); hashes refused at once are in usher_password_hashes_refused_total.",
			Buckets: []float64{0, .001, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
	}
	reg.MustRegister(m.importRows, m.actionRuns, m.actionTime, m.passwordWait)
	for _, r := range []string{"inserted", "updated", "skipped", "failed", "invited"} {
		m.importRows.WithLabelValues(r) // every result shows from the start, at 0
	}
	return m
}

// serviceHooks are the options' hooks through which the domain services
// count into m; nil m counts nothing (the commands other than serve).
type serviceHooks struct {
	importWritten func(identity.JobSummary)
	actionRan     func(string, actions.RunResult, time.Duration)
	passwordWait  func(time.Duration)
}

func (m *metrics) hooks() serviceHooks {
	if m == nil {
		return serviceHooks{}
	}
	return serviceHooks{
		importWritten: func(rows identity.JobSummary) {
			m.importRows.WithLabelValues("inserted").Add(float64(rows.Inserted))
			m.importRows.WithLabelValues("updated").Add(float64(rows.Updated))
			m.importRows.WithLabelValues("skipped").Add(float64(rows.Skipped))
			m.importRows.WithLabelValues("failed").Add(float64(rows.Failed))
			m.importRows.WithLabelValues("invited").Add(float64(rows.Invited))
		},
		actionRan: func(trigger string, result actions.RunResult, took time.Duration) {
			m.actionRuns.WithLabelValues(trigger, string(result)).Inc()
			m.actionTime.WithLabelValues(trigger).Observe(took.Seconds())
		},
		passwordWait: func(d time.Duration) { m.passwordWait.Observe(d.Seconds()) },
	}
}

// registerMailDeliveries exposes the outbox worker's recorded attempts by outcome.
func registerMailDeliveries(reg *prometheus.Registry, worker *mail.Worker) {
	for result, count := range map[string]func(mail.Deliveries) int64{
		"sent":    func(d mail.Deliveries) int64 { return d.Sent },
		"retried": func(d mail.Deliveries) int64 { return d.Retried },
		"dead":    func(d mail.Deliveries) int64 { return d.Dead },
		"lost":    func(d mail.Deliveries) int64 { return d.Lost },
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "usher_mail_deliveries_total",
			Help:        "Delivery attempts this instance's outbox worker recorded, by result: sent; retried (failed for now, tried again later); dead (refused for good or out of time); lost (another instance had claimed the mail meanwhile).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(count(worker.Deliveries())) }))
	}
}

// maxBacklog bounds how many mails of a status a scrape counts.
const maxBacklog = 1_000_000

// outboxCollector reads the outbox's backlog from the database when
// /metrics is scraped: one bounded statement, at most once a second
// however often /metrics is asked for (anyone may ask), the same numbers
// on every instance, since the outbox is shared.
type outboxCollector struct {
	db     *store.DB
	now    func() time.Time
	depth  *prometheus.Desc
	oldest *prometheus.Desc

	mu     sync.Mutex
	readAt time.Time // when last was read, on the real clock
	last   store.Backlog
	err    error
}

// backlogEvery is how often the backlog is read at most.
const backlogEvery = time.Second

// backlog is the outbox's backlog as last read, read again when older
// than backlogEvery; scrapes meanwhile wait for the one read under way.
func (c *outboxCollector) backlog(now time.Time) (store.Backlog, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.readAt) >= backlogEvery {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.last, c.err = c.db.OutboxBacklog(ctx, now, maxBacklog)
		c.readAt = time.Now()
	}
	return c.last, c.err
}

func newOutboxCollector(db *store.DB, now func() time.Time) *outboxCollector {
	return &outboxCollector{db: db, now: now,
		depth: prometheus.NewDesc("usher_mail_outbox",
			"Mails in the outbox by status (queued, sending, failed, dead), every instance's, counted up to 1,000,000 each; NaN while the database does not answer.",
			[]string{"status"}, nil),
		oldest: prometheus.NewDesc("usher_mail_oldest_due_seconds",
			"How long the queued or failed mail due the longest has been due (a queued mail is due when queued): 0 when none is; NaN while the database does not answer.",
			nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	b, err := c.backlog(now)
	counts := map[string]int{outbox.Queued: b.Queued, outbox.Sending: b.Sending, outbox.Failed: b.Failed, outbox.Dead: b.Dead}
	for status, n := range counts {
		v := float64(n)
		if err != nil {
			v = math.NaN()
		}
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, v, status)
	}
	age := 0.0
	switch {
	case err != nil:
		age = math.NaN()
	case !b.OldestDue.IsZero():
		age = max(0, now.Sub(b.OldestDue).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}

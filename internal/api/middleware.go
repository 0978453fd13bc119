package api

import (
	"cmp"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/usherid/usher/internal/web"
	"golang.org/x/time/rate"
)

// recorder remembers the status written and any internal error, so that
// observe can log and count each request once.
type recorder struct {
	http.ResponseWriter
	status int
	err    error
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection, whose
// deadlines an upload moves on.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// noteError attaches an internal error to the request's log line.
func noteError(w http.ResponseWriter, err error) {
	if rec, ok := w.(*recorder); ok {
		rec.err = err
	}
}

// observe logs every request (never its query string or body, which may carry
// secrets) and counts it in the Prometheus registry.
func observe(next http.Handler, log *slog.Logger, reg *prometheus.Registry) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "usher_http_requests_total", Help: "HTTP requests by route, method and status.",
	}, []string{"route", "method", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "usher_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	reg.MustRegister(requests, duration)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		elapsed := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
		duration.WithLabelValues(route).Observe(elapsed.Seconds())
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", elapsed, "remote", web.ClientIP(r)}
		switch {
		case rec.err != nil:
			log.Error("request failed", append(attrs, "error", rec.err.Error())...)
		case rec.status >= 500:
			log.Warn("request", attrs...)
		default:
			log.Debug("request", attrs...)
		}
	})
}

// recoverPanics turns a panic into a 500 with no detail for the client and
// the stack in the log only.
func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeMgmtError(w, http.StatusInternalServerError, "internal_error", "Internal Server Error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// maxKeys bounds the keys a limiter remembers.
const maxKeys = 10000

// limiter keeps a token bucket per key (a client address, an address and
// an email), with bounded memory. Forgetting a key hands it a full bucket
// again, so the limiter forgets only what costs nothing or the least: when
// it holds maxKeys keys, it drops every key whose bucket has refilled (a new
// one would be the same), and if that is not enough, the fullest buckets,
// down to seven eighths of maxKeys. A drained bucket, the one that matters,
// goes last: to reach it, an attacker would first have to drain the buckets
// of thousands of other addresses, and it is never forgotten while fuller
// ones remain. The sweep runs at most once per maxKeys/8 new keys.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	every   rate.Limit
	burst   int
	max     int
	now     func() time.Time
}

func newLimiter(every rate.Limit, burst int) *limiter {
	return &limiter{buckets: map[string]*rate.Limiter{}, every: every, burst: burst, max: maxKeys, now: time.Now}
}

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.sweep(now)
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[key] = b
	}
	return b.AllowN(now, 1)
}

// sweep forgets the keys whose buckets are full, then the fullest ones
// until a eighth of the room is free.
func (l *limiter) sweep(now time.Time) {
	type entry struct {
		key    string
		tokens float64
	}
	var rest []entry
	for k, b := range l.buckets {
		tokens := b.TokensAt(now)
		if tokens >= float64(l.burst) {
			delete(l.buckets, k)
			continue
		}
		rest = append(rest, entry{k, tokens})
	}
	keep := l.max - l.max/8
	if len(rest) <= keep {
		return
	}
	slices.SortFunc(rest, func(a, b entry) int { return cmp.Compare(b.tokens, a.tokens) })
	for _, e := range rest[:len(rest)-keep] {
		delete(l.buckets, e.key)
	}
}

// limitPerIP allows each client address perSecond requests with bursts of
// burst, and answers 429 in OAuth's shape past that.
func limitPerIP(next http.Handler, perSecond float64, burst int) http.Handler {
	return limitWith(newLimiter(rate.Limit(perSecond), burst), next)
}

// limitWith is limitPerIP with the limiter given.
func limitWith(l *limiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.allow(web.ClientIP(r)) {
			w.Header().Set("Retry-After", "1")
			writeOAuthError(w, http.StatusTooManyRequests, "too_many_requests", "Too many requests. Try again later.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

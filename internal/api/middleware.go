package api

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/usherid/usher/internal/headers"
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

// NoteError attaches an internal error to the request's log line (web.NoteError).
func (r *recorder) NoteError(err error) { r.err = err }

// noteError attaches an internal error to the request's log line.
func noteError(w http.ResponseWriter, err error) { web.NoteError(w, err) }

// edge is what every request goes through before its route: the security
// headers, the client's address from trusted proxies, the request's id,
// and the access log, metrics and panic recovery of observe.
func edge(routes http.Handler, log *slog.Logger, reg *prometheus.Registry, proxies web.Proxies) http.Handler {
	h := observe(routes, log, reg)
	h = identify(h, proxies)
	h = proxies.Resolve(h)
	return headers.Wrap(h)
}

// identify gives every request an id: the one a trusted proxy sent in
// X-Request-Id, else a new one. The answer carries it back in the same
// header, and web.Logger puts it on every log line of the request.
func identify(next http.Handler, proxies web.Proxies) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := proxies.RequestID(r)
		if id == "" {
			id = web.NewRequestID()
		}
		w.Header().Set(web.RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(web.WithRequestID(r.Context(), id)))
	})
}

// observe logs every request (never its query string or body, which may carry
// secrets) and counts it in the Prometheus registry: a request that failed
// with an internal error at level error, one answered 5xx at warn, any other
// at debug. It also recovers a panic in the handler: the client gets a 500
// with no detail, the log gets the stack, and the request counts as a 500
// of its route, and in the panics.
func observe(next http.Handler, log *slog.Logger, reg *prometheus.Registry) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "usher_http_requests_total", Help: "HTTP requests by route, method and status.",
	}, []string{"route", "method", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "usher_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	panics := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "usher_http_panics_total", Help: "Requests whose handler panicked, by route; each was answered 500 (or cut, if its answer had begun) and logged with its stack.",
	}, []string{"route"})
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "usher_http_requests_in_flight", Help: "HTTP requests being served, this scrape included.",
	})
	reg.MustRegister(requests, duration, panics, inFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		id := web.RequestIDOf(r.Context())
		inFlight.Inc()
		defer func() {
			inFlight.Dec()
			v := recover()
			route := cmp.Or(r.Pattern, "unmatched") // the mux sets it on r before the handler runs
			cut := false                            // the connection must be cut: the answer cannot be whole
			switch {
			case v == http.ErrAbortHandler: // a deliberate abort, not a bug
				cut = true
			case v != nil:
				panics.WithLabelValues(route).Inc()
				log.Error("panic serving request", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeMgmtError(rec, http.StatusInternalServerError, "internal_error", "Internal Server Error")
				} else {
					cut = true
				}
			}
			if v != nil {
				rec.status = http.StatusInternalServerError
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			elapsed := time.Since(start)
			requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
			duration.WithLabelValues(route).Observe(elapsed.Seconds())
			attrs := []any{"request_id", id, "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", elapsed, "remote", web.ClientIP(r)}
			switch {
			case rec.err != nil:
				log.Error("request failed", append(attrs, "error", rec.err.Error())...)
			case rec.status >= 500:
				log.Warn("request", attrs...)
			default:
				log.Debug("request", attrs...)
			}
			if cut {
				panic(http.ErrAbortHandler) // net/http closes the connection without a word
			}
		}()
		next.ServeHTTP(rec, r)
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

package api

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", elapsed, "remote", clientIP(r)}
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
				log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeMgmtError(w, http.StatusInternalServerError, "internal_error", "Internal Server Error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// clientIP is the peer address of the request.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiter keeps a token bucket per key, with bounded memory: past 10,000
// keys it starts afresh (a forgotten key starts with a full bucket).
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	every   rate.Limit
	burst   int
}

func newLimiter(every rate.Limit, burst int) *limiter {
	return &limiter{buckets: map[string]*rate.Limiter{}, every: every, burst: burst}
}

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= 10000 {
			clear(l.buckets)
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[key] = b
	}
	l.mu.Unlock()
	return b.Allow()
}

// limitPerIP allows each client address perSecond requests with bursts of
// burst, and answers 429 in OAuth's shape past that.
func limitPerIP(next http.Handler, perSecond float64, burst int) http.Handler {
	l := newLimiter(rate.Limit(perSecond), burst)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.allow(clientIP(r)) {
			w.Header().Set("Retry-After", "1")
			writeOAuthError(w, http.StatusTooManyRequests, "too_many_requests", "Too many requests. Try again later.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

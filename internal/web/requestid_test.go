package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestIDIsTakenFromTrustedProxiesOnly(t *testing.T) {
	t.Parallel()
	proxies, err := ParseProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer, id, want string
	}{
		{"trusted proxy, good id", "10.1.2.3:4000", "req-42.a_B", "req-42.a_B"},
		{"trusted proxy, longest id", "10.1.2.3:4000", strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{"trusted proxy, too long", "10.1.2.3:4000", strings.Repeat("a", 129), ""},
		{"trusted proxy, a space", "10.1.2.3:4000", "req 42", ""},
		{"trusted proxy, a line break", "10.1.2.3:4000", "req\n42", ""},
		{"trusted proxy, a quote", "10.1.2.3:4000", `req"42`, ""},
		{"trusted proxy, not ASCII", "10.1.2.3:4000", "reqé", ""},
		{"trusted proxy, no id", "10.1.2.3:4000", "", ""},
		{"untrusted peer, good id", "203.0.113.9:4000", "req-42", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			if tc.id != "" {
				r.Header.Set(RequestIDHeader, tc.id)
			}
			if got := proxies.RequestID(r); got != tc.want {
				t.Fatalf("RequestID = %q, want %q", got, tc.want)
			}
		})
	}
	var none Proxies
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(RequestIDHeader, "req-42")
	if got := none.RequestID(r); got != "" {
		t.Fatalf("with no trusted proxies the id %q was taken", got)
	}
}

func TestNewRequestIDsAreValidAndDistinct(t *testing.T) {
	t.Parallel()
	a, b := NewRequestID(), NewRequestID()
	if a == b || !validRequestID(a) || !validRequestID(b) {
		t.Fatalf("new ids %q and %q", a, b)
	}
}

func TestLoggerNamesTheRequest(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	Logger(WithRequestID(context.Background(), "req-7"), log).Info("inside")
	Logger(context.Background(), log).Info("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "request_id=req-7") || strings.Contains(lines[1], "request_id") {
		t.Fatalf("log lines:\n%s", buf.String())
	}
}

package web_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/web"
)

// paced is a client body: pieces of it, each sent after a pause, then
// either its end or, with stall, nothing more.
type paced struct {
	pieces []string
	pause  time.Duration
	stall  bool
}

// TestUpload sends bodies through a real server whose read timeout is
// shorter than the whole upload: the body is read for as long as it keeps
// coming, a pause past the stall bound ends it with a *StalledError, and a
// body past the bound ends with a *http.MaxBytesError, at once when the
// request says so.
func TestUpload(t *testing.T) {
	const (
		readTimeout = 300 * time.Millisecond
		stall       = 300 * time.Millisecond
		limit       = 1000
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = web.Upload(w, r, limit, stall)
		n, err := io.Copy(io.Discard, r.Body)
		var stalled *web.StalledError
		switch {
		case errors.As(err, &stalled):
			http.Error(w, "stalled after "+stalled.Stall.String(), http.StatusRequestTimeout)
		case errors.As(err, new(*http.MaxBytesError)):
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			fmt.Fprintf(w, "%d bytes", n)
		}
	}))
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = readTimeout, readTimeout
	srv.Start()
	defer srv.Close()

	for _, tc := range []struct {
		name   string
		length int // the Content-Length sent; 0: chunked
		body   paced
		status int
		answer string
	}{
		{"slow but steady, chunked", 0, paced{pieces: strings.Split(strings.Repeat("x", 10), ""), pause: readTimeout / 4}, 200, "10 bytes"},
		{"slow but steady, with a length", 10, paced{pieces: strings.Split(strings.Repeat("x", 10), ""), pause: readTimeout / 4}, 200, "10 bytes"},
		{"stalls", 10, paced{pieces: []string{"xxx"}, stall: true}, 408, "stalled after 300ms"},
		{"past the bound", 0, paced{pieces: []string{strings.Repeat("x", 600), strings.Repeat("x", 600)}}, 413, "too large"},
		{"says it is past the bound", 1 << 20, paced{pieces: []string{"x"}, stall: true}, 413, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			head := "POST / HTTP/1.1\r\nHost: upload.test\r\nTransfer-Encoding: chunked\r\n\r\n"
			chunk := func(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }
			if tc.length > 0 {
				head = fmt.Sprintf("POST / HTTP/1.1\r\nHost: upload.test\r\nContent-Length: %d\r\n\r\n", tc.length)
				chunk = func(s string) string { return s }
			}
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				io.WriteString(conn, head)
				for i, p := range tc.body.pieces {
					if i > 0 {
						time.Sleep(tc.body.pause)
					}
					if _, err := io.WriteString(conn, chunk(p)); err != nil {
						return
					}
				}
				if !tc.body.stall && tc.length == 0 {
					io.WriteString(conn, "0\r\n\r\n")
				}
			}()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || strings.TrimSpace(string(answer)) != tc.answer {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, answer, tc.status, tc.answer)
			}
			<-sent
		})
	}
}

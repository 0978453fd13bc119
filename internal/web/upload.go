package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// UploadStall is how long an upload may bring nothing before it is
// dropped, when its edge is given no other bound.
const UploadStall = 30 * time.Second

// StalledError is the error of reading an upload that brought nothing for
// Stall: the client's doing, answered 408.
type StalledError struct{ Stall time.Duration }

func (e *StalledError) Error() string {
	return fmt.Sprintf("nothing of the upload arrived for %s", e.Stall)
}

// Upload returns r with a body, a file of up to limit bytes, that may take
// as long as it keeps coming. The server's ReadTimeout bounds a whole
// request, which a large file on a slow link outlasts; instead each read
// of the body gets stall (UploadStall when 0) to bring something, and
// fails with a *StalledError when it brings nothing. The answer may be
// written the server's WriteTimeout after the last read. Past limit a read
// fails with *http.MaxBytesError, the first one at once when the request
// says its body is longer.
//
// It returns a copy of r and leaves r alone: when the answer is written,
// the server looks at r's own body to see how much of it is left unread,
// and closes the connection after the answer rather than wait for the
// rest of a large one.
func Upload(w http.ResponseWriter, r *http.Request, limit int64, stall time.Duration) *http.Request {
	if stall <= 0 {
		stall = UploadStall
	}
	u := &upload{body: r.Body, rc: http.NewResponseController(w), stall: stall, tooLong: r.ContentLength > limit, limit: limit}
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok {
		u.write = srv.WriteTimeout
	}
	r = r.Clone(r.Context())
	r.Body = http.MaxBytesReader(w, u, limit)
	return r
}

// upload is a request body whose deadlines move on with every read.
type upload struct {
	body  io.ReadCloser
	rc    *http.ResponseController
	stall time.Duration
	write time.Duration // the server's WriteTimeout; 0: none
	// tooLong is set when the request says its body is past limit: then
	// none of it is read.
	tooLong bool
	limit   int64
}

func (u *upload) Read(p []byte) (int, error) {
	if u.tooLong {
		return 0, &http.MaxBytesError{Limit: u.limit}
	}
	// A writer that cannot set deadlines (no connection behind it, as in
	// a test's recorder) leaves the server's own, which then hold.
	deadline := time.Now().Add(u.stall)
	u.rc.SetReadDeadline(deadline)
	if u.write > 0 {
		u.rc.SetWriteDeadline(deadline.Add(u.write))
	}
	n, err := u.body.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = &StalledError{Stall: u.stall}
	}
	return n, err
}

func (u *upload) Close() error { return u.body.Close() }

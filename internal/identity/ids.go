package identity

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlnum returns n characters drawn uniformly from [A-Za-z0-9].
func randomAlnum(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n*2)
	for i := 0; i < n; {
		rand.Read(buf)
		for _, b := range buf {
			// 248 = 4*62: reject the tail so every character is equally likely.
			if b < 248 && i < n {
				out[i] = alnum[int(b)%len(alnum)]
				i++
			}
		}
	}
	return string(out)
}

func randomHex(nbytes int) string {
	b := make([]byte, nbytes)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// objectIDs make ids that grow with time, in the shape of a MongoDB
// ObjectId (as Auth0's database user ids are): 4 bytes of seconds, 5 random
// bytes drawn once per process, 3 bytes of a counter that starts anywhere.
// New rows then land at the end of their table's primary key instead of
// all over it, which is what makes bulk imports cheap.
var objectIDs struct {
	once    sync.Once
	process [5]byte
	counter atomic.Uint32
}

// objectID returns 24 hex digits that sort by creation time.
func objectID() string {
	objectIDs.once.Do(func() {
		var c [4]byte
		rand.Read(objectIDs.process[:])
		rand.Read(c[:])
		objectIDs.counter.Store(binary.BigEndian.Uint32(c[:]))
	})
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	copy(b[4:9], objectIDs.process[:])
	n := objectIDs.counter.Add(1)
	b[9], b[10], b[11] = byte(n>>16), byte(n>>8), byte(n)
	return hex.EncodeToString(b[:])
}

// NewUserID returns a database user id in Auth0's shape: "auth0|" and 24 hex digits.
func NewUserID() string { return "auth0|" + objectID() }

// NewConnectionID returns "con_" and 16 alphanumerics, as Auth0 enforces.
func NewConnectionID() string { return "con_" + randomAlnum(16) }

// NewClientID returns a 32-character alphanumeric client id.
func NewClientID() string { return randomAlnum(32) }

// NewClientSecret returns a 64-character secret (about 380 bits).
func NewClientSecret() string { return randomAlnum(64) }

// NewGrantID returns "cgr_" and 16 alphanumerics.
func NewGrantID() string { return "cgr_" + randomAlnum(16) }

// NewJobID returns "job_" and 16 alphanumerics.
func NewJobID() string { return "job_" + randomAlnum(16) }

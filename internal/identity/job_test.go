package identity_test

import (
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
)

func TestJobTimeLeft(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		job  identity.Job
		now  time.Time
		want time.Duration
	}{
		{"a quarter in 10s: 30s more", identity.Job{Status: identity.JobPending, FileBytes: 400, BytesDone: 100, CreatedAt: start}, start.Add(10 * time.Second), 30 * time.Second},
		{"nothing read yet", identity.Job{Status: identity.JobPending, FileBytes: 400, CreatedAt: start}, start.Add(10 * time.Second), 0},
		{"ended", identity.Job{Status: identity.JobCompleted, FileBytes: 400, BytesDone: 100, CreatedAt: start}, start.Add(10 * time.Second), 0},
		{"clock behind", identity.Job{Status: identity.JobPending, FileBytes: 400, BytesDone: 100, CreatedAt: start}, start.Add(-time.Second), 0},
	} {
		if got := tc.job.TimeLeft(tc.now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkImport imports a file of b.N users with invitations queued,
// straight on the database (usher import --db FILE --invite), and reports
// users per second. Run with -benchtime 100000x for the README's figure.
func BenchmarkImport(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			dsn := sqliteDSN(b)
			if engine == "postgres" {
				dsn = postgresDSN(b)
			}
			startServer(b, dsn, nil).stop()
			file := filepath.Join(b.TempDir(), "users.json")
			if err := os.WriteFile(file, usersFile(b.N, "bench", nil), 0o600); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			out, errOut, err := cli(map[string]string{"USHER_DB": dsn}, "import", "--invite", file)
			elapsed := time.Since(start)
			b.StopTimer()
			if err != nil || !strings.HasPrefix(out, "created ") {
				b.Fatalf("import: %q %q %v", out, errOut, err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "users/s")
			_ = context.Background
		})
	}
}

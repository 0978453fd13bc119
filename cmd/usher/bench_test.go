package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCreateUser measures POST /api/v2/users without a password from 16
// concurrent clients against a real server, reporting users/s and the p99.
//
//	go test ./cmd/usher -run '^$' -bench CreateUser -benchtime 20000x
func BenchmarkCreateUser(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchCreateUser(b, sqliteDSN(b)) })
	b.Run("postgres", func(b *testing.B) { benchCreateUser(b, postgresDSN(b)) })
}

func benchCreateUser(b *testing.B, dsn string) {
	s := startServer(b, dsn, nil)
	s.HTTP.Transport = &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	tok := s.token(b)
	const clients = 16
	var next atomic.Int64
	latencies := make([]time.Duration, b.N)
	var failures atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				body := fmt.Sprintf(`{"connection":"Username-Password-Authentication","email":"bench%d@example.com","email_verified":false,"verify_email":false,"app_metadata":{"needsInvitation":true}}`, i)
				req, _ := http.NewRequest("POST", s.URL+"/api/v2/users", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				t0 := time.Now()
				resp, err := s.HTTP.Do(req)
				latencies[i] = time.Since(t0)
				if err != nil || resp.StatusCode != http.StatusCreated {
					failures.Add(1)
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body) // drained, so the connection is reused
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d creates failed", n, b.N)
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "users/s")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkStartup starts the built binary on an empty SQLite file and
// reports the time until /readyz answers 200 and the resident memory once idle.
//
//	go test ./cmd/usher -run '^$' -bench Startup -benchtime 10x
func BenchmarkStartup(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "usher")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	var total time.Duration
	var rssTotal float64
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		addr := freeAddr(b)
		cmd := exec.Command(bin, "serve", "--addr", addr, "--db", "sqlite:"+filepath.Join(dir, "usher.db"))
		cmd.Dir = dir
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Since(start) > 10*time.Second {
				cmd.Process.Kill()
				b.Fatal("not ready after 10s")
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
		time.Sleep(time.Second) // let start-up garbage be collected before reading the idle size
		rssTotal += rssMB(b, cmd.Process.Pid)
		cmd.Process.Kill()
		cmd.Wait()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-ready")
	b.ReportMetric(rssTotal/float64(b.N), "idle-RSS-MB")
}

func rssMB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Skip("no /proc here: cannot read resident memory")
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

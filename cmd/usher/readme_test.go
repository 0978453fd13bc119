package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tourBlock is a shell block of the README's tour and the output shown
// after it, if any.
type tourBlock struct {
	script, want string
}

// readTour returns the tour's ```sh blocks, each with the ```text block
// that follows it: the README's quick tour, then docs/tour.md, which goes
// on from it.
func readTour(t *testing.T) []tourBlock {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## A quick tour\n")
	if start < 0 {
		t.Fatal("the README has no quick tour")
	}
	text = text[start+1:]
	if end := strings.Index(text, "\n## "); end >= 0 {
		text = text[:end]
	}
	more, err := os.ReadFile("../../docs/tour.md")
	if err != nil {
		t.Fatal(err)
	}
	text += "\n" + string(more)
	var blocks []tourBlock
	for rest := text; ; {
		i := strings.Index(rest, "```")
		if i < 0 {
			break
		}
		info, body, _ := strings.Cut(rest[i+3:], "\n")
		body, after, ok := strings.Cut(body, "```\n")
		if !ok {
			t.Fatalf("an unclosed block in the tour: %q", rest[i:])
		}
		switch info {
		case "sh":
			blocks = append(blocks, tourBlock{script: body})
		case "text":
			if len(blocks) == 0 || blocks[len(blocks)-1].want != "" || strings.TrimSpace(rest[:i]) != "" {
				t.Fatalf("an output block that follows no command:\n%s", body)
			}
			blocks[len(blocks)-1].want = body
		}
		rest = after
	}
	return blocks
}

// wantLines checks that each line of want matches a line of got, in order;
// "…" in want stands for any text.
func wantLines(t *testing.T, what, got, want string) {
	t.Helper()
	lines := strings.Split(got, "\n")
	for _, w := range strings.Split(strings.TrimRight(want, "\n"), "\n") {
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(strings.TrimRight(w, " ")), "…", ".*") + "$")
		found := false
		for len(lines) > 0 && !found {
			found = re.MatchString(strings.TrimRight(lines[0], " "))
			lines = lines[1:]
		}
		if !found {
			t.Fatalf("%s: the README shows the line\n  %s\nwhich the output lacks (in order):\n%s", what, w, got)
		}
	}
}

// TestREADMETour runs the README's quick tour as a newcomer would paste it:
// the server is started by the first block's command (the built binary on
// a free port, in a fresh folder), each later block runs in bash with what
// the blocks before it exported, and the output of each must show what the
// README says it shows. The one step done in a browser, choosing Ada's
// password on the invitation page, is done over HTTP with the link her
// mail holds.
func TestREADMETour(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the tour needs %s, which is not installed", tool)
		}
	}
	t.Parallel()
	blocks := readTour(t)
	if len(blocks) < 3 || strings.TrimSpace(blocks[0].script) != "go run ./cmd/usher serve" {
		t.Fatalf("the tour does not start with the server: %+v", blocks)
	}
	bin, dir, addr := buildUsher(t), t.TempDir(), freeAddr(t)
	base := "http://" + addr
	fromREADME := strings.NewReplacer("http://127.0.0.1:8080", base)

	// The server, as the first block starts it, with its address moved to a free port.
	serve := exec.Command(bin, "serve")
	serve.Dir = dir
	serve.Env = append(os.Environ(), "USHER_ADDR="+addr, "USHER_DB=", "USHER_URL=", "USHER_SMTP_URL=", "USHER_PUBLIC_URL=",
		"USHER_BOOTSTRAP_CLIENT_ID=", "USHER_BOOTSTRAP_CLIENT_SECRET=")
	out := &syncBuffer{}
	serve.Stdout, serve.Stderr = out, &syncBuffer{}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
	})
	var exportLine string
	waitFor(t, 20*time.Second, "the server's credentials", func() bool {
		for _, l := range strings.Split(out.String(), "\n") {
			if e, ok := strings.CutPrefix(strings.TrimSpace(l), "in a shell:"); ok {
				exportLine = strings.TrimSpace(e)
			}
		}
		return exportLine != ""
	})
	clientID := regexp.MustCompile(`CLIENT_ID=(\S+)`).FindStringSubmatch(exportLine)[1]
	// The README's example credentials stand for this server's.
	example := strings.NewReplacer("Wwe5azwLMUPQFK6oQoI9LLdtk3DL9AsC", clientID, "ZLnPiJ6a…", "…")
	wantLines(t, "usher serve", out.String(), example.Replace(fromREADME.Replace(blocks[0].want)))

	env := filepath.Join(dir, "tour.env")
	os.WriteFile(env, nil, 0o600)
	var transcript strings.Builder
	accepted := false
	for i, b := range blocks[1:] {
		script := strings.ReplaceAll(b.script, "go run ./cmd/usher ", bin+" ")
		if strings.HasPrefix(script, "export USHER=") {
			script = exportLine // what the reader pastes: the line the server printed
		}
		cmd := exec.Command("bash", "-c", "set -eo pipefail\nsource "+env+"\n"+script+"\nexport -p > "+env)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+dir)
		got, err := cmd.CombinedOutput()
		transcript.Write(got)
		if err != nil {
			t.Fatalf("tour block %d failed: %v\n%s\n---\n%s", i+1, err, script, got)
		}
		if b.want != "" {
			wantLines(t, "tour block "+b.script, string(got), fromREADME.Replace(b.want))
		}
		if strings.Contains(script, "export ADAS_PASSWORD=") {
			// Ada opens the link of her mail and chooses that password.
			link := regexp.MustCompile(regexp.QuoteMeta(base) + `/lo/reset\?ticket=[^\s#]+#type=invite`).FindString(transcript.String())
			if link == "" {
				t.Fatalf("no invitation link in the tour's output so far:\n%s", transcript.String())
			}
			password := shellVar(t, env, "ADAS_PASSWORD")
			if resp, body := setPassword(t, browser(t), base, link, password); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusOK {
				t.Fatalf("setting Ada's password: %d\n%s", resp.StatusCode, body)
			}
			accepted = true
		}
	}
	if !accepted {
		t.Fatal("the tour never has Ada choose a password")
	}
}

// shellVar reads an exported variable from the file export -p wrote.
func shellVar(t *testing.T, env, name string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", "source "+env+"; printf %s \"$"+name+"\"")
	got, err := cmd.Output()
	if err != nil || len(got) == 0 {
		t.Fatalf("%s is not set after the tour's blocks: %v", name, err)
	}
	return string(got)
}

// Package e2e runs the built crossdock binary against a real PostgreSQL and
// drives it with Debian's Chromium through chromedp.
package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crossdock/crossdock/internal/dbtest"
)

// binary is the crossdock program built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "crossdock-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "crossdock")
	build := exec.Command("go", "build", "-o", binary, "../cmd/crossdock")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build crossdock:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// program is a running `crossdock serve`.
type program struct {
	dbURL   string
	cmd     *exec.Cmd
	baseURL string
	mu      sync.Mutex
	logs    strings.Builder
	stdout  syncBuffer
	exited  chan error
}

func (p *program) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startProgram migrates a fresh database and serves on a free port with JSON
// logs, returning once /healthz answers.
func startProgram(t testing.TB, env ...string) *program {
	t.Helper()
	return startProgramOn(t, dbtest.NewEmptyDatabase(t), env...)
}

// startProgramOn is startProgram on a given database (to start twice).
func startProgramOn(t testing.TB, dbURL string, env ...string) *program {
	t.Helper()
	baseEnv := append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"CROSSDOCK_DATA_DIR="+t.TempDir(),
		"CROSSDOCK_LOG_FORMAT=json",
		"CROSSDOCK_ADDR=127.0.0.1:0",
		// The demo's SFTP server on a free port, so that programs of
		// parallel tests (and a `make run` nearby) do not collide.
		"CROSSDOCK_DEMO_SFTP_ADDR=127.0.0.1:0",
	)
	baseEnv = append(baseEnv, env...)

	migrate := exec.Command(binary, "migrate")
	migrate.Env = baseEnv
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("crossdock migrate: %v\n%s", err, out)
	}

	p := &program{dbURL: dbURL, cmd: exec.Command(binary, "serve"), exited: make(chan error, 1)}
	p.cmd.Env = baseEnv
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var rec struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				listening <- rec.URL
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})

	select {
	case p.baseURL = <-listening:
	case err := <-p.exited:
		t.Fatalf("crossdock serve exited before listening: %v\n%s", err, p.Logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("crossdock serve did not listen within 30s\n%s", p.Logs())
	}
	waitHealthy(t, p.baseURL+"/healthz")
	return p
}

func waitHealthy(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within 20s", url)
}

// stop sends SIGTERM and waits for a clean exit.
func (p *program) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("crossdock serve exited with %v after SIGTERM\n%s", err, p.Logs())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("crossdock serve did not stop within 30s of SIGTERM\n%s", p.Logs())
	}
}

func TestServeShutsDownGracefullyOnSIGTERM(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=a long enough password")
	res, err := http.Get(p.baseURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz = %d", res.StatusCode)
	}
	p.stop(t)
	logs := p.Logs()
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "a long enough password") {
		t.Error("the admin password from the environment reached the log")
	}
}

func TestFirstStartPrintsTheAdminPasswordOnce(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewEmptyDatabase(t)
	first := startProgramOn(t, dbURL)
	password := adminPasswordFromLog(first.Logs())
	if len(password) < 20 {
		t.Fatalf("no generated admin password in the log:\n%s", first.Logs())
	}
	first.stop(t)

	second := startProgramOn(t, dbURL)
	if strings.Contains(second.Logs(), "created the first admin") || strings.Contains(second.Logs(), password) {
		t.Fatalf("a second start must not create or print the admin again:\n%s", second.Logs())
	}
	second.stop(t)
}

func adminPasswordFromLog(logs string) string {
	for _, line := range strings.Split(logs, "\n") {
		var rec struct{ Msg, Email, Password string }
		if json.Unmarshal([]byte(line), &rec) == nil && strings.HasPrefix(rec.Msg, "created the first admin") {
			return rec.Password
		}
	}
	return ""
}

// addUser runs `crossdock user add` against the program's database.
func (p *program) addUser(t testing.TB, email, role, password string) {
	t.Helper()
	cmd := exec.Command(binary, "user", "add", "--email", email, "--role", role, "--password-stdin")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+p.dbURL)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("crossdock user add: %v\n%s", err, out)
	}
}

// syncBuffer collects the program's standard output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

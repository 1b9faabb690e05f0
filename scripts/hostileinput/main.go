// Command hostileinput measures how the real server takes hostile flow
// definitions and expressions: it starts `crossdock serve` on a database of
// its own (demo data: the storefront flow deployed to dev), signs in as a
// viewer and an admin, sends each hostile request, and prints a markdown
// table of status, time and the server's extra memory (peak RSS during
// the request over RSS before it; the peak is reset before each request
// through /proc/PID/clear_refs). docs/reliability.md ("Hostile input")
// holds its output:
//
//	make build && go run ./scripts/hostileinput -bin bin/crossdock \
//	  -admin-url "$(scripts/pg.sh test-url)"
//
// A case whose request kills the server is reported as such and the
// server started again for the next one.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hostileinput:", err)
		os.Exit(1)
	}
}

const (
	flow          = "storefront-orders"
	adminEmail    = "ada@shop.example"
	adminPassword = "hostile input admin password"
	viewerEmail   = "vic@shop.example"
	viewerPass    = "hostile input viewer password"
)

type server struct {
	bin, dbURL, addr string
	cmd              *exec.Cmd
	exited           chan error
	log              bytes.Buffer
	apiKey           string
}

func run() error {
	bin := flag.String("bin", "bin/crossdock", "the crossdock binary to measure")
	adminURL := flag.String("admin-url", "postgres://postgres@127.0.0.1:54329/postgres?sslmode=disable", "PostgreSQL URL a database can be created from")
	flag.Parse()
	ctx := context.Background()

	conn, err := pgx.Connect(ctx, *adminURL)
	if err != nil {
		return err
	}
	db := fmt.Sprintf("crossdock_hostile_%d", os.Getpid())
	if _, err := conn.Exec(ctx, "create database "+db); err != nil {
		return err
	}
	defer func() {
		_, _ = conn.Exec(context.Background(), "drop database if exists "+db+" with (force)")
		conn.Close(context.Background())
	}()
	u, err := url.Parse(*adminURL)
	if err != nil {
		return err
	}
	u.Path = "/" + db
	s := &server{bin: *bin, dbURL: u.String()}
	if out, err := s.command("migrate").CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %v\n%s", err, out)
	}
	for _, u := range [][3]string{{adminEmail, "admin", adminPassword}, {viewerEmail, "viewer", viewerPass}} {
		c := s.command("user", "add", "--email", u[0], "--role", u[1], "--password-stdin")
		c.Stdin = strings.NewReader(u[2] + "\n")
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("user add: %v\n%s", err, out)
		}
	}
	if err := s.start(); err != nil {
		return err
	}
	defer s.stop()

	fmt.Println("| case | requests | status | time | extra memory (peak RSS) |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, cs := range cases() {
		if err := s.measure(cs); err != nil {
			return fmt.Errorf("%s: %w", cs.name, err)
		}
	}
	return nil
}

func (s *server) command(args ...string) *exec.Cmd {
	c := exec.Command(s.bin, args...)
	c.Env = append(os.Environ(), "DATABASE_URL="+s.dbURL, "CROSSDOCK_LOG_LEVEL=warn")
	return c
}

func (s *server) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()
	ln.Close()
	targets, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	targetsAddr := targets.Addr().String()
	targets.Close()
	s.log.Reset()
	s.cmd = s.command("serve")
	s.cmd.Env = append(s.cmd.Env, "CROSSDOCK_ADDR="+s.addr, "CROSSDOCK_DEMO=1", "CROSSDOCK_DEMO_TARGETS_ADDR="+targetsAddr,
		"CROSSDOCK_DEMO_FAIL_RATE=0", "CROSSDOCK_DATA_DIR="+os.TempDir())
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	for range 300 {
		if res, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				if m := regexp.MustCompile(`API key for dev, shown only now: (\S+)`).FindStringSubmatch(s.log.String()); m != nil {
					s.apiKey = m[1]
				}
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the server did not become healthy:\n%s", s.log.String())
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
		}
	}
}

func (s *server) alive() bool {
	select {
	case err := <-s.exited:
		s.exited <- err
		return false
	default:
		return true
	}
}

// rss reads a figure of /proc/PID/status in kB.
func (s *server) rss(field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// client is a signed-in browser: cookies and the CSRF token.
type client struct {
	s    *server
	http *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (s *server) signIn(email, password string) (*client, error) {
	jar, _ := cookiejar.New(nil)
	c := &client{s: s, http: &http.Client{Jar: jar, Timeout: 120 * time.Second}}
	page, err := c.page("/login")
	if err != nil {
		return nil, err
	}
	res, err := c.http.PostForm("http://"+s.addr+"/login", url.Values{"email": {email}, "password": {password}, "_csrf": {csrfOf(page)}})
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	page, err = c.page("/flows/" + flow + "/versions")
	if err != nil {
		return nil, err
	}
	c.csrf = csrfOf(page)
	if c.csrf == "" {
		return nil, fmt.Errorf("sign-in as %s failed", email)
	}
	return c, nil
}

func csrfOf(page string) string {
	if m := csrfField.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

func (c *client) page(path string) (string, error) {
	res, err := c.http.Get("http://" + c.s.addr + path)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

func (c *client) api(method, path string, body any) (int, []byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	if body == nil {
		raw = nil
	}
	req, err := http.NewRequest(method, "http://"+c.s.addr+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// hostileCase is one measured row: do sends its requests (n of them at
// once) and returns the statuses it saw.
type hostileCase struct {
	name string
	n    int
	do   func(s *server, admin, viewer *client) (string, error)
}

// orderPayload is the demo order (docs/demo-order.json) with a note that
// makes it about 10 KB.
func orderPayload() map[string]any {
	b, err := os.ReadFile("docs/demo-order.json")
	if err != nil {
		panic(err)
	}
	var order map[string]any
	if err := json.Unmarshal(b, &order); err != nil {
		panic(err)
	}
	order["note"] = strings.Repeat("Please leave the parcel with the neighbour. ", 190)
	return order
}

func draft(c *client) (map[string]any, int, error) {
	status, body, err := c.api(http.MethodGet, "/api/v1/flows/"+flow+"/draft", nil)
	if err != nil || status != http.StatusOK {
		return nil, 0, fmt.Errorf("draft: %d %v", status, err)
	}
	var out struct {
		Revision   int            `json:"revision"`
		Definition map[string]any `json:"definition"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, 0, err
	}
	return out.Definition, out.Revision, nil
}

// previewCase previews the flow's draft with expr as the correlation key
// (where = "key") or as a first mapping row (where = "row").
func previewCase(name, expr, where string, n int) hostileCase {
	return hostileCase{name: name, n: n, do: func(s *server, admin, viewer *client) (string, error) {
		def, _, err := draft(admin)
		if err != nil {
			return "", err
		}
		place(def, expr, where)
		status, body, err := viewer.api(http.MethodPost, "/api/v1/flows/"+flow+"/preview", map[string]any{"payload": orderPayload(), "definition": def})
		if err != nil {
			return "", err
		}
		return answer(status, body), nil
	}}
}

func place(def map[string]any, expr, where string) {
	switch where {
	case "key":
		def["keys"].(map[string]any)["correlation"] = expr
	default:
		r := def["routes"].([]any)[0].(map[string]any)
		var rows []any
		for _, row := range r["mapping"].([]any) {
			if row.(map[string]any)["target"] != "hostile" {
				rows = append(rows, row)
			}
		}
		r["mapping"] = append([]any{map[string]any{"target": "hostile", "expr": expr}}, rows...)
	}
}

var detailOf = regexp.MustCompile(`"detail":"((?:[^"\\]|\\.){0,110})`)

func answer(status int, body []byte) string {
	if m := detailOf.FindSubmatch(body); m != nil {
		return fmt.Sprintf("%d %s", status, m[1])
	}
	return strconv.Itoa(status)
}

func cases() []hostileCase {
	million := strings.Repeat("(", 1_000_000) + "1" + strings.Repeat(")", 1_000_000)
	return []hostileCase{
		previewCase("preview, correlation key of 1,000,000 nested `(`", million, "key", 1),
		previewCase("preview, row of 4,999 nested `(` (9,999 characters)", strings.Repeat("(", 4999)+"1"+strings.Repeat(")", 4999), "row", 1),
		{name: "draft save (PUT), correlation key of 1,000,000 nested `(`", n: 1, do: func(s *server, admin, viewer *client) (string, error) {
			def, rev, err := draft(admin)
			if err != nil {
				return "", err
			}
			place(def, million, "key")
			status, body, err := admin.api(http.MethodPut, "/api/v1/flows/"+flow+"/draft", map[string]any{"revision": rev, "definition": def})
			return answer(status, body), err
		}},
		previewCase("preview, `len(toJSON(map(1..100000, source)))` on a 10 KB order", `len(toJSON(map(1..100000, source)))`, "key", 1),
		previewCase("the same, two requests at once", `len(toJSON(map(1..100000, source)))`, "key", 2),
		previewCase("preview, `len(string(map(1..100000, source)))`", `len(string(map(1..100000, source)))`, "key", 1),
		previewCase("preview, `sha256(map(1..100000, source))`", `sha256(map(1..100000, source))`, "key", 1),
		previewCase("preview, row `map(1..100000, source)`", `map(1..100000, source)`, "row", 1),
		previewCase("preview, `len(uniq(1..100000))`", `len(uniq(1..100000))`, "key", 1),
		previewCase("preview, `now().AddDate(100000, 0, 0)`", `now().AddDate(100000, 0, 0)`, "row", 1),
		deployedCase("deployed flow, row `len(toJSON(map(1..100000, source)))`, one message", `len(toJSON(map(1..100000, source)))`),
		deployedCase("deployed flow, row `count(1..900000, regexMatch(source.note, \"neighbour[.] $\"))` (900,000 scans of 8 KB), one message", `count(1..900000, regexMatch(source.note, "neighbour[.] $"))`),
	}
}

// deployedCase publishes the draft with expr as a first row of the ERP
// route, deploys it to dev, posts one order with the demo API key and
// waits until the message is failed (or delivered).
func deployedCase(name, expr string) hostileCase {
	return hostileCase{name: name, n: 1, do: func(s *server, admin, viewer *client) (string, error) {
		def, rev, err := draft(admin)
		if err != nil {
			return "", err
		}
		place(def, expr, "row")
		def["tests"] = nil
		if status, body, err := admin.api(http.MethodPut, "/api/v1/flows/"+flow+"/draft", map[string]any{"revision": rev, "definition": def}); err != nil || status != http.StatusOK {
			return "", fmt.Errorf("save: %d %s %v", status, body, err)
		}
		status, body, err := admin.api(http.MethodPost, "/api/v1/flows/"+flow+"/publish", map[string]any{"revision": rev + 1, "note": "hostile"})
		if err != nil || status != http.StatusCreated {
			return "", fmt.Errorf("publish: %d %s %v", status, body, err)
		}
		var v struct{ Number int }
		_ = json.Unmarshal(body, &v)
		if status, body, err := admin.api(http.MethodPost, "/api/v1/flows/"+flow+"/promotions", map[string]any{"version": v.Number, "to": "dev", "reason": "hostile"}); err != nil || status >= 300 {
			return "", fmt.Errorf("deploy: %d %s %v", status, body, err)
		}
		raw, _ := json.Marshal(orderPayload())
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/api/v1/envs/dev/flows/"+flow+"/messages", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+s.apiKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("hostile-%d", time.Now().UnixNano()))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		var acc struct{ ID string }
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		_ = json.Unmarshal(b, &acc)
		if acc.ID == "" {
			return "", fmt.Errorf("accept: %d %s", res.StatusCode, b)
		}
		var last []byte
		for range 600 {
			status, body, err := admin.api(http.MethodGet, "/api/v1/messages/"+acc.ID, nil)
			last = body
			if err != nil {
				return "", err
			}
			var m struct {
				Message    struct{ Status string } `json:"message"`
				Exceptions []struct {
					Kind, Message string
				} `json:"exceptions"`
				Lineage []struct {
					Stage      string
					DurationMS *int `json:"durationMs"`
				} `json:"lineage"`
			}
			_ = json.Unmarshal(body, &m)
			if m.Message.Status != "" && m.Message.Status != "received" {
				out := m.Message.Status
				for _, l := range m.Lineage {
					if l.DurationMS != nil && (l.Stage == "failed" || l.Stage == "mapped") {
						out += fmt.Sprintf(" after %d ms of mapping", *l.DurationMS)
					}
				}
				if len(m.Exceptions) > 0 {
					out += ", " + m.Exceptions[0].Kind + " exception: " + truncate(m.Exceptions[0].Message, 110)
				}
				return out, nil
			}
			_ = status
			time.Sleep(50 * time.Millisecond)
		}
		return "", fmt.Errorf("the message was not processed within 30 s: %.300s", last)
	}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (s *server) measure(cs hostileCase) error {
	// Each case gets a freshly started server, so its memory figure is not
	// hidden in a heap an earlier case grew.
	s.stop()
	if err := s.start(); err != nil {
		return err
	}
	admin, err := s.signIn(adminEmail, adminPassword)
	if err != nil {
		return err
	}
	viewer, err := s.signIn(viewerEmail, viewerPass)
	if err != nil {
		return err
	}
	// Warm up with an ordinary preview so the figures are the request's.
	if _, err := previewCase("", "source.name", "key", 1).do(s, admin, viewer); err != nil {
		return err
	}
	before := s.rss("VmRSS")
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
	start := time.Now()
	var wg sync.WaitGroup
	outcomes := make([]string, cs.n)
	errs := make([]error, cs.n)
	for i := range cs.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i], errs[i] = cs.do(s, admin, viewer)
		}()
	}
	wg.Wait()
	took := time.Since(start)
	peak := s.rss("VmHWM")
	outcome := outcomes[0]
	if errs[0] != nil {
		outcome = "error: " + errs[0].Error()
		// A server that dropped the connection may be dying still.
		select {
		case err := <-s.exited:
			s.exited <- err
		case <-time.After(3 * time.Second):
		}
	}
	if !s.alive() {
		outcome = "the server died: " + truncate(firstLine(s.log.String(), "fatal error"), 80)
		peak = before
	}
	outcome = strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(outcome, `\n`, " "), "\n", " "), "|", "\\|")
	fmt.Printf("| %s | %d | %s | %.2f s | %d MB (%d → %d MB) |\n", cs.name, cs.n, outcome, took.Seconds(), (peak-before)/1024, before/1024, peak/1024)
	return nil
}

func firstLine(log, prefix string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return "exit"
}

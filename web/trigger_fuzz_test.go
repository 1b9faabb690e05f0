package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/web"
)

// Trigger modes a fuzz input selects with its mode byte.
const (
	fuzzSingle = iota // POST …/messages
	fuzzBatch         // POST …/messages:batch (NDJSON)
	fuzzWait          // POST …/messages with Prefer: wait=1
	fuzzModes
)

// fuzzMaxMessageBytes is the per-event limit of the fuzzed server, 64 KiB
// rather than the default 1 MiB: a 10,000-deep document (20 KB) still fits
// and reaches the JSON checks, while an oversized event (413 from the
// handler) is a 64 KiB input, not a megabyte one. The server's whole-body
// limit (16× plus 4 KiB, 413 from fasthttp) is reached by one seed added in
// FuzzTrigger rather than committed as a file of a megabyte.
const fuzzMaxMessageBytes = 64 << 10

// triggerFuzzer is the server a fuzz run shares across inputs: one database,
// the storefront flow deployed to dev, a key for the fuzzed requests and
// another for the canary, the app listening on a real socket so that what
// fasthttp itself refuses (header bytes, body limits) is seen as a client
// sees it.
type triggerFuzzer struct {
	*triggerBundle
	addr      string
	canaryKey string
	canaryID  string
}

func newTriggerFuzzer(f *testing.F) *triggerFuzzer {
	tb := setupTrigger(f, setupOpts{maxMessageBytes: fuzzMaxMessageBytes})
	// The canary has its own key so that a fuzz input that exhausts the
	// fuzz key's rate cannot make the canary fail.
	_, canary, err := account.APIKeyCreate(context.Background(), tb.db, account.NewAPIKey{Name: "canary", Environment: "dev", RatePerMinute: 100000}, account.SystemActor)
	require.NoError(f, err)
	fz := &triggerFuzzer{triggerBundle: tb, addr: listen(f, tb.testBundle), canaryKey: canary}
	if len(tb.sample) > fuzzMaxMessageBytes {
		f.Fatalf("the storefront sample is %d bytes, over the fuzz limit of %d: raise fuzzMaxMessageBytes", len(tb.sample), fuzzMaxMessageBytes)
	}
	status, body, err := fz.send(devPath, canary, "application/json", "fuzz-canary", false, []byte(tb.sample))
	require.NoError(f, err)
	require.Equal(f, http.StatusAccepted, status, string(body))
	var out struct{ ID string }
	require.NoError(f, json.Unmarshal(body, &out))
	fz.canaryID = out.ID
	return fz
}

// listen serves the bundle's app on a loopback port until the test ends and
// returns the address.
func listen(t testing.TB, b *testBundle) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = b.app.Listener(ln) }()
	t.Cleanup(func() { _ = b.app.ShutdownWithTimeout(5 * time.Second) })
	return ln.Addr().String()
}

// headerValue drops CR and LF: no HTTP client can put them in a header
// value, and with them the fuzzer would be testing request framing (header
// injection) rather than the trigger. Every other byte goes through raw.
func headerValue(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}

// send writes one raw HTTP/1.1 request on a new connection and reads the
// answer. A server that does not answer within 20 s has hung: that is an
// error, and the fuzz target fails on it.
func (fz *triggerFuzzer) send(path, key, contentType, idemKey string, wait bool, body []byte) (int, []byte, error) {
	conn, err := net.DialTimeout("tcp", fz.addr, 5*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: fuzz.test\r\nAuthorization: Bearer %s\r\n", path, key)
	if contentType != "" {
		fmt.Fprintf(&req, "Content-Type: %s\r\n", headerValue(contentType))
	}
	if idemKey != "" {
		fmt.Fprintf(&req, "Idempotency-Key: %s\r\n", headerValue(idemKey))
	}
	if wait {
		req.WriteString("Prefer: wait=1\r\n")
	}
	fmt.Fprintf(&req, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(body))
	req.Write(body)
	// Written while the answer is read: for a body over the server's
	// limit, fasthttp answers 413 and closes without reading the rest, and
	// a client still blocked writing would get a reset instead of the 413.
	wrote := make(chan error, 1)
	go func() {
		_, err := conn.Write(req.Bytes())
		wrote <- err
	}()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("read response (writing the request: %v): %w", <-wrote, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("read response body: %w", err)
	}
	ct := res.Header.Get("Content-Type")
	if res.StatusCode >= 400 && res.StatusCode != http.StatusUnprocessableEntity && !strings.HasPrefix(ct, "application/problem+json") {
		return res.StatusCode, out, fmt.Errorf("status %d with Content-Type %q, not problem JSON: %.300q", res.StatusCode, ct, out)
	}
	return res.StatusCode, out, nil
}

// FuzzTrigger posts arbitrary bodies, media types and idempotency keys to
// the trigger in its three modes (single, NDJSON batch, synchronous) and
// holds the endpoint to its contract for bad input: never a panic or a 5xx,
// never a hang; an accepted event is answered 202/200 (207 for a partly
// accepted batch) with a message id; everything else is a 4xx problem
// document (RFC 9457) whose title and detail say what is wrong. After every
// input the canary, an ordinary event, must still be accepted: bad input
// must not wedge the intake (a held writer slot, a leaked connection).
//
// The seed corpus is testdata/fuzz/FuzzTrigger; plain `go test` runs it.
func FuzzTrigger(f *testing.F) {
	fz := newTriggerFuzzer(f)
	// Seeds that need the fixture's sample; the hostile ones are files.
	f.Add([]byte(fz.sample), "application/json", uint8(fuzzSingle), "")
	f.Add([]byte(fz.sample), "application/json", uint8(fuzzWait), "order-1")
	f.Add([]byte(compactJSON(f, fz.sample)+"\n"+`{"id": 2, broken`+"\n"), "application/x-ndjson", uint8(fuzzBatch), "")
	overServerLimit := bytes.Repeat([]byte(`{"id": 1}`+"\n"), (fuzzMaxMessageBytes*16+4096)/10+1)
	f.Add(overServerLimit, "application/x-ndjson", uint8(fuzzBatch), "")
	f.Add(overServerLimit, "application/json", uint8(fuzzSingle), "")

	f.Fuzz(func(t *testing.T, body []byte, contentType string, mode uint8, idemKey string) {
		mode %= fuzzModes
		path := devPath
		if mode == fuzzBatch {
			path += ":batch"
		}
		status, out, err := fz.send(path, fz.devKey, contentType, idemKey, mode == fuzzWait, body)
		if err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
		// With -v, what each input got: the corpus doubles as a catalogue of
		// refusals whose wording can be read.
		t.Logf("mode %d → %d %.300s", mode, status, out)
		if status >= 500 {
			t.Logf("server log for this request:\n%s", fz.logFor(out))
		}
		checkTriggerAnswer(t, mode, status, out)

		// The canary: the same ordinary event under the same key, so it is
		// a cheap replay that still goes through the whole intake.
		status, out, err = fz.send(devPath, fz.canaryKey, "application/json", "fuzz-canary", false, []byte(fz.sample))
		if err != nil || status != http.StatusAccepted || !strings.Contains(string(out), fz.canaryID) {
			t.Fatalf("after this input an ordinary event is no longer accepted: status %d, %v: %.300s", status, err, out)
		}
	})
}

// logFor returns the server's log lines for the request id named in a
// problem document, so a 5xx comes with its cause.
func (fz *triggerFuzzer) logFor(problem []byte) string {
	var p web.Problem
	if json.Unmarshal(problem, &p) != nil || p.RequestID == "" {
		return "(no request id)"
	}
	var b strings.Builder
	for _, l := range strings.Split(fz.logs.String(), "\n") {
		if strings.Contains(l, p.RequestID) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// checkTriggerAnswer is the contract FuzzTrigger enforces on each answer.
func checkTriggerAnswer(t *testing.T, mode uint8, status int, body []byte) {
	t.Helper()
	switch {
	case status >= 500 || status < 200:
		t.Fatalf("mode %d: status %d: %.500s", mode, status, body)
	case status >= 400:
		checkRefusal(t, mode, status, body)
	case mode == fuzzBatch:
		checkBatchAnswer(t, status, body)
	default:
		want := http.StatusAccepted
		if mode == fuzzWait {
			want = http.StatusOK
		}
		if status != want {
			t.Fatalf("mode %d: accepted with %d, want %d: %.500s", mode, status, want, body)
		}
		var out struct{ ID string }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("mode %d: accepted, but the answer is not JSON: %v: %.500s", mode, err, body)
		}
		if _, err := uuid.Parse(out.ID); err != nil {
			t.Fatalf("mode %d: accepted without a message id: %.500s", mode, body)
		}
	}
}

// checkRefusal: a 4xx is a problem document that says what is wrong, or,
// for a synchronous call, the 422 that lists the failed validation rules of
// a message that was recorded.
func checkRefusal(t *testing.T, mode uint8, status int, body []byte) {
	t.Helper()
	if mode == fuzzWait && status == http.StatusUnprocessableEntity {
		var v struct {
			ID         string
			Valid      *bool
			Validation []struct{ Rule, Message string }
		}
		if json.Unmarshal(body, &v) == nil && v.Valid != nil {
			if *v.Valid || len(v.Validation) == 0 || v.ID == "" {
				t.Fatalf("synchronous 422 without the failed rules or the message id: %.500s", body)
			}
			for _, r := range v.Validation {
				if r.Message == "" {
					t.Fatalf("synchronous 422 with a rule that says nothing: %.500s", body)
				}
			}
			return
		}
	}
	var p web.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("mode %d: status %d with a body that is not a problem document: %v: %.500s", mode, status, err, body)
	}
	if p.Status != status || p.Title == "" || strings.TrimSpace(p.Detail) == "" || p.Code == "" {
		t.Fatalf("mode %d: status %d with an incomplete problem document (status, title, detail and code needed): %.500s", mode, status, body)
	}
	// What the detail must mention for the statuses bad input can cause,
	// so that "what is wrong" is not just any text.
	mentions := map[int][]string{
		http.StatusRequestEntityTooLarge: {"at most", "larger than"},
		http.StatusUnsupportedMediaType:  {"Content-Type"},
		http.StatusBadRequest:            {"JSON", "UTF-8", "body", "deep", "header"},
	}
	if words, ok := mentions[status]; ok && !containsAny(p.Detail, words) {
		t.Fatalf("mode %d: status %d whose detail does not say what is wrong (want one of %q): %q", mode, status, words, p.Detail)
	}
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// checkBatchAnswer: 202 when every line was accepted, 207 when some were
// refused; each line is answered, accepted ones with an id, refused ones
// with a 4xx status and a detail.
func checkBatchAnswer(t *testing.T, status int, body []byte) {
	t.Helper()
	var out struct {
		Accepted, Rejected int
		Results            []struct {
			Line   int
			Status int
			ID     string
			Detail string
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("batch: status %d, but the answer is not JSON: %v: %.500s", status, err, body)
	}
	if status != http.StatusAccepted && status != http.StatusMultiStatus {
		t.Fatalf("batch: status %d: %.500s", status, body)
	}
	if out.Accepted+out.Rejected != len(out.Results) || len(out.Results) == 0 || (status == http.StatusAccepted) != (out.Rejected == 0) {
		t.Fatalf("batch: status %d with counts that do not match its results: %.500s", status, body)
	}
	for i, r := range out.Results {
		if r.Line != i+1 {
			t.Fatalf("batch: result %d answers line %d: %.500s", i, r.Line, body)
		}
		switch {
		case r.Status == http.StatusAccepted:
			if _, err := uuid.Parse(r.ID); err != nil {
				t.Fatalf("batch: line %d accepted without a message id: %.500s", r.Line, body)
			}
		case r.Status >= 400 && r.Status < 500:
			if strings.TrimSpace(r.Detail) == "" {
				t.Fatalf("batch: line %d refused with %d and no detail: %.500s", r.Line, r.Status, body)
			}
		default:
			t.Fatalf("batch: line %d answered %d: %.500s", r.Line, r.Status, body)
		}
	}
}

func compactJSON(t testing.TB, s string) string {
	var b bytes.Buffer
	require.NoError(t, json.Compact(&b, []byte(s)))
	return b.String()
}

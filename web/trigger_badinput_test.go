package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/web"
)

// Bad input from FuzzTrigger's seeds (testdata/fuzz/FuzzTrigger/seed-*,
// named in each case): each is answered with a 4xx problem document that
// says what is wrong, never a 500 or a refusal that hides its cause.
func TestTriggerRefusesBadInputSayingWhat(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	cases := []struct {
		name, ctype, body string
		headers           []string
		status            int
		detail            string
	}{
		{"seed-nul-escape-in-key-value: the key expression yields a NUL (was 500)", "application/json", `{"id": "a\u0000b"}`, nil,
			422, "contains a NUL character"},
		{"seed-nul-in-idempotency-key (was 500)", "application/json", `{"id": 1}`, []string{"Idempotency-Key", "a\x00b"},
			422, "Idempotency-Key header has a control character"},
		{"seed-utf8-in-idempotency-key (was 500)", "application/json", `{"id": 1}`, []string{"Idempotency-Key", "k\xff"},
			422, "Idempotency-Key header is not UTF-8 text"},
		{"seed-utf8-lone-surrogate-escape (was 500)", "application/json", `{"id": 1, "name": "\ud800"}`, nil,
			400, "half of a UTF-16 surrogate pair"},
		{"seed-deep-array-10000: the depth, not a 300-link parser chain", "application/json", deep, nil,
			400, "nests arrays and objects 10000 levels deep; at most 300 levels are allowed"},
		{"seed-deep-array-10000 with both key headers, so no key expression runs", "application/json", deep, []string{"Idempotency-Key", "deep", "X-Correlation-ID", "deep"},
			400, "10000 levels deep"},
		{"seed-number-1e400: valid JSON no float64 holds", "application/json", `{"id": 1e400}`, nil,
			400, "the number 1e400 is too large"},
		{"seed-ctype-latin1: a charset other than UTF-8", "application/json; charset=latin1", `{"id": 1}`, nil,
			415, `encoded as UTF-8 (Content-Type says charset="latin1")`},
		{"seed-empty", "application/json", "", nil,
			400, "the body is empty"},
	}
	for _, tc := range cases {
		res, p := tb.post(t, devPath, tb.devKey, tc.ctype, tc.body, tc.headers...)
		require.Equal(t, tc.status, res.StatusCode, "%s: %s", tc.name, res.body)
		require.Contains(t, p.Detail, tc.detail, tc.name)
	}
	var messages int
	require.NoError(t, tb.db.QueryRow(context.Background(), `select count(*) from messages`).Scan(&messages))
	require.Zero(t, messages, "nothing refused was recorded")

	// The charset check accepts UTF-8 however it is spelt.
	for _, ct := range []string{"application/json; charset=utf-8", "application/json;charset=UTF8"} {
		res, _ := tb.post(t, devPath, tb.devKey, ct, `{"id": 7, "name": "#7"}`)
		require.Equal(t, http.StatusAccepted, res.StatusCode, "%s: %s", ct, res.body)
	}
}

// seed-oversized-batch-line: a batch could carry an event 16 times the
// event limit on one line, since only the whole batch was measured.
func TestTriggerBatchRefusesALineOverTheEventLimit(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t, setupOpts{maxMessageBytes: 4096})
	big := `{"id": 2, "pad": "` + strings.Repeat("x", 5000) + `"}`
	res, _ := tb.post(t, devPath+":batch", tb.devKey, "application/x-ndjson", `{"id": 1, "name": "#1"}`+"\n"+big+"\n")
	require.Equal(t, http.StatusMultiStatus, res.StatusCode, res.body)
	var out struct {
		Accepted int
		Results  []struct {
			Status int
			Detail string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(res.body), &out))
	require.Equal(t, 1, out.Accepted)
	require.Equal(t, http.StatusRequestEntityTooLarge, out.Results[1].Status)
	require.Equal(t, "the line is 5020 bytes; an event may have at most 4096", out.Results[1].Detail)
}

// seed#4 of FuzzTrigger: a body over the server's own limit is refused by
// fasthttp before any handler; the problem document said only "larger than
// this server accepts".
func TestTriggerBodyOverTheServerLimitSaysTheLimit(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t, setupOpts{maxMessageBytes: 4096})
	// Over a real socket: app.Test reports fasthttp's refusal as an error
	// instead of the response a client gets.
	fz := &triggerFuzzer{triggerBundle: tb, addr: listen(t, tb.testBundle)}
	status, body, err := fz.send(devPath+":batch", tb.devKey, "application/x-ndjson", "", false, []byte(strings.Repeat(`{"id": 1}`+"\n", 7000)))
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, status, string(body))
	var p web.Problem
	require.NoError(t, json.Unmarshal(body, &p))
	require.Equal(t, "the request body is larger than this server accepts: at most 69632 bytes", p.Detail)
}

package intake_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
)

// Each case is text PostgreSQL refuses to store, from FuzzTrigger's seeds
// (web/testdata/fuzz); reaching the database it would be a 500. Each is
// refused before the transaction, with a 4xx code and a message that
// names the problem, whether the event comes alone, with Prefer: wait or
// (when it needs no header) as a batch's line.
// The flow's keys are `"order-" + string(source.id)` and `source.name`.
func TestAcceptRefusesWhatPostgreSQLCannotStore(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	cases := []struct {
		name, payload, key, correlation string
		code                            fault.Code
		says                            string
	}{
		{"seed-nul-escape-in-key-value: NUL in the derived key", `{"id": "a\u0000b"}`, "", "",
			fault.Invalid, "contains a NUL character"},
		{"seed-nul-in-idempotency-key: NUL in the header", `{"id": 1}`, "a\x00b", "",
			fault.Invalid, "Idempotency-Key header has a control character (U+0000"},
		{"seed-utf8-in-idempotency-key: not UTF-8 in the header", `{"id": 1}`, "key-\xff", "",
			fault.Invalid, "Idempotency-Key header is not UTF-8 text (byte 4)"},
		{"seed-control-in-idempotency-key", `{"id": 1}`, "a\tb", "",
			fault.Invalid, "control character (U+0009 at byte 1)"},
		{"NUL in the correlation header", `{"id": 1}`, "", "c\x00",
			fault.Invalid, "X-Correlation-ID header has a control character"},
		{"seed-utf8-lone-surrogate-escape: high half alone", `{"id": 1, "name": "\ud800"}`, "", "",
			fault.Malformed, "escape at byte 19 is half of a UTF-16 surrogate pair"},
		{"low half alone", `{"id": 1, "name": "x\udfff"}`, "", "",
			fault.Malformed, "escape at byte 20 is half"},
		{"high half then not a low half", `{"id": 1, "name": "\ud800\u0041"}`, "", "",
			fault.Malformed, "half of a UTF-16 surrogate pair"},
		{"seed-deep-array-10000", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), "", "",
			fault.Malformed, "nests arrays and objects 10000 levels deep; at most 300 levels are allowed"},
		{"deeper than encoding/json's own limit", `{"id": ` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, "k-deep", "c-deep",
			fault.Malformed, "10002 levels deep"},
		{"seed-number-1e400: a number beyond float64 in the key", `{"id": 1e400}`, "", "",
			fault.Malformed, "the body cannot be read: the number 1e400 is too large"},
	}
	for _, tc := range cases {
		req := intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(tc.payload), IdempotencyKey: tc.key, CorrelationID: tc.correlation}
		_, err := b.Intake.Accept(ctx, req)
		require.Equal(t, tc.code, fault.CodeOf(err), "%s: %v", tc.name, err)
		fe, _ := fault.As(err)
		require.Contains(t, fe.Message, tc.says, tc.name)
		_, err = b.Intake.MapInline(ctx, req)
		require.Equal(t, tc.code, fault.CodeOf(err), "%s (Prefer: wait): %v", tc.name, err)
		if tc.key == "" && tc.correlation == "" {
			lines, err := b.Intake.AcceptBatch(ctx, intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: [][]byte{req.Payload}})
			require.NoError(t, err)
			require.Equal(t, tc.code, fault.CodeOf(lines[0].Err), "%s (batch): %v", tc.name, lines[0].Err)
		}
	}
	require.Zero(t, b.CountRows(t, `select count(*) from messages`), "nothing refused was recorded")

	// What is storable passes: a surrogate pair, an escaped NUL in a field
	// that is not a key, 300 levels, and a correlation id derived with a
	// NUL, which labels the message with U+FFFD in its place.
	for i, payload := range []string{
		`{"id": 1, "name": "\ud83d\ude00"}`,
		`{"id": 2, "note": "a\u0000b"}`,
		`{"id": 3, "x": ` + strings.Repeat("[", 299) + strings.Repeat("]", 299) + `}`,
		`{"id": 4, "name": "#4\u0000"}`,
	} {
		res, err := b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(payload)})
		require.NoError(t, err, "payload %d", i)
		if i == 3 {
			require.Equal(t, "#4\uFFFD", res.CorrelationID)
		}
	}
}

func TestCheckJSONNamesTheProblem(t *testing.T) {
	t.Parallel()
	for payload, says := range map[string]string{
		"":                                 "the body is empty",
		"[[[" + strings.Repeat("[", 400):   "403 levels deep",
		`{"a": "\ud800"}`:                  "byte 7 is half",
		`{"a": "caf` + "\xe9" + `"}`:       "not valid UTF-8 (byte 10)",
		`{"a": 1,}`:                        "line 1, column 10",
		`["\\ud800"]`:                      "", // an escaped backslash, then text: fine
		`["\ud83d\ude00", "\\", "\u00e9"]`: "",
		strings.Repeat("[", 300) + strings.Repeat("]", 300): "",
	} {
		err := intake.CheckJSON([]byte(payload))
		if says == "" {
			require.NoError(t, err, "%.40q", payload)
			continue
		}
		require.ErrorIs(t, err, intake.ErrBadJSON, "%.40q", payload)
		require.Contains(t, err.Error(), says)
	}
}

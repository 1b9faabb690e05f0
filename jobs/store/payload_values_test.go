package store_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/store"
)

// Processing computes a message's payload values in Go; the explorer's
// search of messages not processed yet, the orphan check and migrations
// compute them with the SQL function message_payload_values. Both must
// give the same jsonb for every payload intake can store, or a search
// would find a message before processing and lose it after.
func TestPayloadValuesMatchSQL(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	demo, err := os.ReadFile("../../docs/demo-order.json")
	require.NoError(t, err)
	payloads := []string{
		string(demo),
		`{}`,
		`[]`,
		`[1, "a", {"b": "c"}]`,
		`"just a string"`,
		`42`,
		`null`,
		`{"a": null, "b": true, "c": false, "d": [1, 2], "e": {}}`,
		// jsonb's key order (shorter first, then bytewise) and its last-wins
		// duplicates, at the top and one level down.
		`{"zz": 1, "a": 2, "b": "x", "a": "dup", "ab": 3, "B": 4}`,
		`{"o": {"k2": "v2", "k1": "v1", "k1": "v1 again", "deep": {"x": "not found"}}, "p": {"q": 1}, "o": {"k": "replaced"}}`,
		// Numbers as written: jsonb normalises exponents and keeps scale.
		`{"n1": 1e2, "n2": 1.50, "n3": -0, "n4": 12345678901234567890123, "n5": 0.000001, "n6": 1E-7, "n7": -1.5e+3}`,
		// Escapes and text jsonb stores decoded.
		`{"q": "say \"hi\"", "bs": "a\\b", "nl": "line\nbreak", "tab": "\t", "u": "\u00e9\u20ac", "pair": "\ud83d\ude00", "raw": "Straße 😀", "slash": "\/", "ctl": "\u001f\u007f"}`,
		`{"k\u00e9y": "escaped key", "k\"q": "quoted key", "\u0061": "a escaped", "a": "a plain"}`,
		// An escaped NUL: jsonb cannot hold it, so no values at all.
		`{"id": 1, "note": "a\u0000b"}`,
		// An escaped backslash before u0000 is text, but the SQL function
		// looks for the six characters anywhere: so does PayloadValuesOf.
		`{"id": 1, "path": "C:\\u0000"}`,
		`{"nested": {"arr": [1, 2], "obj": {"x": 1}, "s": "kept", "n": 7, "t": true}}`,
		`  {"spaces" :  "around"  }  `,
	}
	for _, p := range payloads {
		got := store.PayloadValuesOf([]byte(p))
		var same bool
		var want, gotNorm string
		err := pool.QueryRow(ctx, `select message_payload_values($1::json) = $2::jsonb, message_payload_values($1::json)::text, $2::jsonb::text`, p, got).
			Scan(&same, &want, &gotNorm)
		require.NoError(t, err, "payload %s gave %s", p, got)
		require.True(t, same, "payload %s:\n SQL %s\n Go  %s", p, want, gotNorm)
	}
}

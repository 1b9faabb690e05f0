package intake_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
)

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ in, want string }{
		"whitespace":        {" {\n  \"a\" : 1 ,\n \"b\":[ 1, 2 ,{ }] }\n", `{"a":1,"b":[1,2,{}]}`},
		"key order kept":    {`{"b": 1, "a": 2}`, `{"b":1,"a":2}`},
		"escapes":           {`{"n": "caf\u00e9 \/ \t"}`, `{"n":"café / \t"}`},
		"numbers as sent":   {`[1.0, 1, 1e3, -0]`, `[1.0,1,1e3,-0]`},
		"nested":            {`{"a": {"b": [{"c": null}, true]}, "d": "x"}`, `{"a":{"b":[{"c":null},true]},"d":"x"}`},
		"scalar":            {` "x" `, `"x"`},
		"empty containers":  {`{"a": [], "b": {}}`, `{"a":[],"b":{}}`},
		"arrays of objects": {`[{"a":1},{"b":2}]`, `[{"a":1},{"b":2}]`},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := intake.CanonicalJSON([]byte(c.in))
			require.NoError(t, err)
			require.Equal(t, c.want, string(got))
		})
	}
}

// TestSameEventInOtherBytesIsAReplay: the same order sent again with other
// whitespace or escaping is the same event; different values are not.
func TestSameEventInOtherBytesIsAReplay(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	first := b.Accept(t, `{"id": 19, "name": "#19", "total": 1}`)
	accept := func(payload string) (intake.AcceptResult, error) {
		return b.Intake.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(payload)})
	}
	for name, payload := range map[string]string{
		"trailing newline":  "{\"id\": 19, \"name\": \"#19\", \"total\": 1}\n",
		"compact":           `{"id":19,"name":"#19","total":1}`,
		"escaped character": `{"id": 19, "name": "\u002319", "total": 1}`,
	} {
		t.Run(name, func(t *testing.T) {
			res, err := accept(payload)
			require.NoError(t, err)
			require.True(t, res.Replayed)
			require.Equal(t, first.MessageID, res.MessageID)
		})
	}
	for name, payload := range map[string]string{
		"another value":     `{"id": 19, "name": "#19", "total": 2}`,
		"another key order": `{"name": "#19", "id": 19, "total": 1}`,
		"another number":    `{"id": 19, "name": "#19", "total": 1.0}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := accept(payload)
			require.ErrorIs(t, err, intake.ErrKeyReused)
		})
	}
}

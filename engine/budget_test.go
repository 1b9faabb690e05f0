package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
)

// bigPayload is about 10 KB of JSON: the kind of order payload whose
// references an expression can multiply.
func bigPayload(t *testing.T) []byte {
	t.Helper()
	lines := make([]map[string]any, 100)
	for i := range lines {
		lines[i] = map[string]any{"sku": "SKU-0000-" + strings.Repeat("x", 40), "qty": i, "price": "19.99"}
	}
	b, err := json.Marshal(map[string]any{"id": 1, "lines": lines})
	require.NoError(t, err)
	return b
}

func runOne(t *testing.T, expr string, opts engine.Options, ctx context.Context, payload []byte) (*engine.Result, error) {
	t.Helper()
	p, err := engine.Compile(limitDef("", expr), opts)
	require.NoError(t, err)
	return p.Run(ctx, engine.Input{Payload: payload, Now: time.Unix(0, 0), Trace: true, MapInvalid: true})
}

// toJSON and string() can write a small structure of references out as
// gigabytes: uncounted, len(toJSON(map(1..100000, source))) runs 10.8 s and
// takes a server from 150 MB to 1 GB. They count their output against the
// message's work budget while they build it.
func TestOutputBuildingFunctionsStopAtTheBudget(t *testing.T) {
	payload := bigPayload(t)
	for name, expr := range map[string]string{
		"toJSON":            `len(toJSON(map(1..100000, source)))`,
		"string":            `len(string(map(1..100000, source)))`,
		"sha256":            `sha256(map(1..100000, source))`,
		"hashKey":           `hashKey(1, map(1..100000, source))`,
		"row value":         `map(1..100000, source)`,
		"nested toBase64":   strings.Repeat("toBase64(", 60) + `toJSON(source)` + strings.Repeat(")", 60),
		"split into runes":  `len(split(toJSON(map(1..500, source)), ""))`,
		"fromJSON of build": `len(fromJSON(toJSON(map(1..1000, source))))`,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := runOne(t, expr, engine.Options{}, context.Background(), payload)
			require.ErrorIs(t, err, engine.ErrLimit)
			require.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

func TestOutputBuildingFunctionsNoticeCancellation(t *testing.T) {
	payload := bigPayload(t)
	for name, expr := range map[string]string{
		"toJSON": `len(toJSON(map(1..100000, source)))`,
		"string": `len(string(map(1..100000, source)))`,
		"sha256": `sha256(map(1..100000, source))`,
		"uniq":   `len(uniq(map(1..100000, ({"a": #}))))`,
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := runOne(t, expr, engine.Options{MaxWorkBytes: 1 << 40, MaxSteps: 1 << 40}, ctx, payload)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Less(t, time.Since(start), time.Second)
		})
	}
}

// toJSON writes what expr's own toJSON wrote (json.MarshalIndent), byte for
// byte, so deployed versions map the same way.
func TestToJSONWritesWhatMarshalIndentWrites(t *testing.T) {
	values := []string{
		`1`, `"<a&b>"`, `nil`, `[]`, `{}`, `[1, 2.5, "x", nil, true]`, `{"b": [1, {"c": {}}], "a": "\u2028é\u0001"}`,
		`1..3`, `map([1, 2], ({"n": #}))`, `source`, `split("a,b", ",")`, `"\b\f\t\u007f\u0000" + string(0)`,
		`parseTime("2026-03-14T09:30:00.5+01:00")`, `1e21`, `-0.000001`, `[[], [[]], {"x": []}]`,
	}
	payload := []byte(`{"z": [1, {"y": null}], "a": "<tag>", "n": 1.5e300}`)
	for _, v := range values {
		got, err := runOne(t, `toJSON(`+v+`)`, engine.Options{}, context.Background(), payload)
		require.NoError(t, err, v)
		require.Empty(t, got.Routes[0].Errors, v)
		plain, err := runOne(t, v, engine.Options{}, context.Background(), payload)
		require.NoError(t, err, v)
		var value any
		var out map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(plain.Routes[0].Output, &out), v)
		require.NoError(t, json.Unmarshal(out["a"], &value), v)
		var res map[string]string
		require.NoError(t, json.Unmarshal(got.Routes[0].Output, &res), v)
		if strings.HasPrefix(v, "parseTime") || strings.HasPrefix(v, "1..") || strings.HasPrefix(v, "1e") || strings.HasPrefix(v, "-0.") || v == "source" || v == "1" {
			// Go values that do not survive a JSON round trip as they are:
			// compare with encoding/json on the decoded value instead.
			want, _ := json.MarshalIndent(value, "", "  ")
			if !strings.HasPrefix(v, "parseTime") {
				require.Equal(t, string(want), res["a"], v)
			}
			continue
		}
		want, err := json.MarshalIndent(value, "", "  ")
		require.NoError(t, err)
		require.Equal(t, string(want), res["a"], v)
	}
	// groupBy builds a map keyed by any, which encoding/json refuses; so
	// did expr's toJSON.
	res, err := runOne(t, `toJSON(groupBy([1, 2, 3], # % 2 == 0 ? "even" : "odd"))`, engine.Options{}, context.Background(), payload)
	require.NoError(t, err)
	require.Contains(t, res.Routes[0].Errors[0].Message, "json: unsupported type: map[interface {}][]interface {}")
	res, err = runOne(t, `toJSON({"a": 1}) + toJSON(parseTime("2026-03-14T09:30:00.5+01:00"))`, engine.Options{}, context.Background(), payload)
	require.NoError(t, err)
	require.JSONEq(t, `{"a": "{\n  \"a\": 1\n}\"2026-03-14T09:30:00.5+01:00\"", "b": null}`, string(res.Routes[0].Output))
}

// uniq compared every item with every kept one: uniq(1..100000) made five
// billion comparisons and could not be stopped.
func TestUniqIsLinearForScalars(t *testing.T) {
	start := time.Now()
	res, err := runOne(t, `len(uniq(1..100000))`, engine.Options{}, context.Background(), []byte(`{}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"a": 100000, "b": null}`, string(res.Routes[0].Output))
	require.Less(t, time.Since(start), time.Second)
	res, err = runOne(t, `uniq([1, 1.0, "1", nil, nil, {"a": 1}, {"a": 1}, [1], [1.0], true, 2, 2])`, engine.Options{}, context.Background(), []byte(`{}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"a": [1, "1", null, {"a": 1}, [1], true, 2], "b": null}`, string(res.Routes[0].Output))
}

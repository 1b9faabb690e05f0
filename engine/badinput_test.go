package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crossdock/crossdock/engine"
)

// badInputProgram maps source.n, so every payload is parsed and the
// number under n converted.
func badInputProgram(t *testing.T) *engine.Program {
	t.Helper()
	return mustCompile(t, mustParse(t, []byte(`{"formatVersion":1,"name":"bad-input","source":{"system":"s","event":"e"},
		"targets":[{"name":"t","kind":"capture"}],
		"routes":[{"name":"r","target":"t","mapping":[{"target":"n","expr":"source.n"}]}]}`)))
}

// The fuzz seeds deep-array-10000 and payload-deep-10000: fastjson refuses
// a payload nested deeper than 300 levels with a chain of "cannot parse
// array: cannot parse array value: …" hundreds of links long, so the
// engine's error names the depth and the limit instead.
func TestRunRefusesDeepNestingNamingTheDepth(t *testing.T) {
	p := badInputProgram(t)
	for payload, depth := range map[string]string{
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000):                                    "10000",
		`{"n": 1, "x": ` + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000) + `}`: "10001",
	} {
		_, err := p.Run(context.Background(), engine.Input{Payload: []byte(payload), Now: time.Unix(0, 0)})
		if !errors.Is(err, engine.ErrInvalidInput) {
			t.Fatalf("want ErrInvalidInput, got %v", err)
		}
		if got := err.Error(); !strings.Contains(got, "nest "+depth+" levels deep; at most 300") || len(got) > 200 {
			t.Errorf("the error should name the depth and the limit in one short line: %.300s", got)
		}
	}
	// At the limit the payload maps.
	res, err := p.Run(context.Background(), engine.Input{Payload: []byte(`{"n": 1, "x": ` + strings.Repeat("[", engine.MaxDepth-1) + strings.Repeat("]", engine.MaxDepth-1) + `}`), Now: time.Unix(0, 0)})
	if err != nil || string(res.Routes[0].Output) != `{"n":1}` {
		t.Fatalf("a payload %d levels deep: %v %+v", engine.MaxDepth, err, res)
	}
}

// Found by the fuzz seed payload-1e400: 1e400 is valid JSON that no float64
// holds; the error said only `bad number "1e400"`.
func TestRunRefusesOutOfRangeNumberSayingSo(t *testing.T) {
	p := badInputProgram(t)
	for _, n := range []string{"1e400", "-1e400", "1" + strings.Repeat("0", 400)} {
		_, err := p.Run(context.Background(), engine.Input{Payload: []byte(`{"n": ` + n + `}`), Now: time.Unix(0, 0)})
		if !errors.Is(err, engine.ErrInvalidInput) || !strings.Contains(err.Error(), "is too large") || len(err.Error()) > 200 {
			t.Errorf("n = %.20s: %v", n, err)
		}
	}
	// Underflow is not an error: 1e-400 is 0, as JSON parsers read it.
	res, err := p.Run(context.Background(), engine.Input{Payload: []byte(`{"n": 1e-400}`), Now: time.Unix(0, 0)})
	if err != nil || string(res.Routes[0].Output) != `{"n":0}` {
		t.Errorf("1e-400: %v %+v", err, res)
	}
}

func TestPayloadDepth(t *testing.T) {
	for in, want := range map[string]int{
		``:                     0,
		`1`:                    0,
		`[]`:                   1,
		`{"a": [1, {"b": 2}]}`: 3,
		`["[[[", "\"[["]`:      1, // brackets inside strings, escaped quotes
		`[[[`:                  3, // unbalanced: counts what opened
		"\xff[\x00[":           2, // any bytes
	} {
		if got := engine.PayloadDepth([]byte(in)); got != want {
			t.Errorf("PayloadDepth(%q) = %d, want %d", in, got, want)
		}
	}
}

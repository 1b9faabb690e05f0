package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crossdock/crossdock/engine"
)

// FuzzCompileRun feeds arbitrary expressions and payloads through Compile
// and Run in every position an expression can take (key, rule, condition,
// row, for-each, filter). Neither may panic (nor overflow the stack), and
// Run may fail only with the documented classes of error. Its seeds
// (scripts/fuzzseeds) include nesting at and over the limits and
// expressions that amplify their output.
func FuzzCompileRun(f *testing.F) {
	seeds := []struct{ expr, payload string }{
		{`source.id`, `{"id": 1}`},
		{`decRound(decMul(source.price, source.qty), 2, "half-even")`, `{"price": "19.995", "qty": 3}`},
		{`map(source.lines ?? [], .sku)`, `{"lines": [{"sku": "A"}, {"sku": null}]}`},
		{`formatTime(addBusinessDays(parseTime(source.d), 3), "date", "Europe/Berlin")`, `{"d": "2026-03-13T18:00:00+01:00"}`},
		{`lookup("t", source.k, "none")`, `{"k": 7}`},
		{`env("X") + padLeft(source.n, 6, "0")`, `{"n": 42}`},
		{`len(source.s) > 3 ? upper(source.s) : nil`, `{"s": "abcd"}`},
		{`filter(source.a, # > 1)`, `{"a": [1, 2, 3]}`},
		{`source.a[-1]`, `{"a": []}`},
		{`toJSON(source)`, `[1, "x", {"y": null}]`},
		{`regexFind(source.s, "([0-9]+)")`, `{"s": "PO 123"}`},
		{`1..100000000`, `{}`},
		{`source?.x?.y ?? "d"`, `null`},
		{`let a = source.a; a.b`, `{"a": {"b": 1.5e300}}`},
		{`decDiv(1, source.z, 2)`, `{"z": 0}`},
	}
	for _, s := range seeds {
		f.Add(s.expr, []byte(s.payload))
	}
	f.Fuzz(func(t *testing.T, expr string, payload []byte) {
		e, _ := json.Marshal(expr)
		x := string(e)
		def := `{"formatVersion":1,"name":"fuzz","source":{"system":"s","event":"e"},
		 "keys":{"idempotency":` + x + `},
		 "validation":[{"name":"r","rule":` + x + `,"message":"m"}],
		 "lookups":{"t":{"entries":{"7":{"a":1}}}},
		 "targets":[{"name":"t","kind":"capture"}],
		 "routes":[
		  {"name":"a","target":"t","mapping":[{"target":"v","expr":` + x + `},{"target":"o.w","expr":` + x + `,"omitNull":true}]},
		  {"name":"b","target":"t","when":` + x + `,"mapping":[{"target":"l","forEach":` + x + `,"as":"it","index":"i","filter":` + x + `,"rows":[{"target":"x","expr":` + x + `}]}]}
		 ]}`
		// The preview API decodes a definition without the schema and
		// compiles it: Compile alone must refuse what is over the limits,
		// before parsing it, with a DefinitionError.
		var decoded engine.Definition
		if json.Unmarshal([]byte(def), &decoded) == nil {
			_, err := engine.Compile(&decoded, engine.Options{})
			if err != nil {
				var de *engine.DefinitionError
				if !errors.As(err, &de) {
					t.Fatalf("Compile of the decoded definition: error of type %T: %v", err, err)
				}
			}
			// The designer's lenient compile of the same definition has a
			// program whatever the expression, and running it stays within
			// the documented classes of error. The rows of a definition
			// Compile refuses may be slow seeds; the preview's deadline
			// stops them.
			lp, diags := engine.CompileLenient(&decoded, engine.Options{MaxItems: 1000, MaxOutputBytes: 1 << 20})
			if lp == nil {
				t.Fatalf("CompileLenient gave no program: %v", diags)
			}
			if (err == nil) != (len(diags) == 0) {
				t.Fatalf("Compile said %v, CompileLenient %v", err, diags)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err := lp.Run(ctx, engine.Input{Payload: payload, Trace: true, MapInvalid: true}); err != nil && !errors.Is(err, engine.ErrInvalidInput) && !errors.Is(err, engine.ErrLimit) && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("lenient Run error outside the documented classes: %v", err)
			}
		}
		d, err := engine.ParseDefinition([]byte(def))
		if err != nil {
			// Only an empty expression or one over the limits checked
			// before parsing may be refused here.
			if strings.TrimSpace(expr) != "" && utf8.RuneCountInString(expr) <= engine.MaxExprChars && engine.ExprDepth(expr) <= engine.MaxExprDepth {
				t.Fatalf("definition with expression %q rejected: %v", expr, err)
			}
			return
		}
		p, err := engine.Compile(d, engine.Options{MaxItems: 1000, MaxOutputBytes: 1 << 20})
		if err != nil {
			var de *engine.DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("Compile error of type %T: %v", err, err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := p.Run(ctx, engine.Input{Payload: payload, Now: time.Unix(1_773_480_600, 0), Vars: map[string]string{"X": "x"}, Trace: true, MapInvalid: true})
		if err != nil {
			if !errors.Is(err, engine.ErrInvalidInput) && !errors.Is(err, engine.ErrLimit) {
				t.Fatalf("Run error outside the documented classes: %v", err)
			}
			return
		}
		for _, r := range res.Routes {
			if r.Output != nil && !json.Valid(r.Output) {
				t.Fatalf("route %s wrote invalid JSON: %s", r.Name, r.Output)
			}
		}
	})
}

package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crossdock/crossdock/engine"
)

func TestReadLookupCSV(t *testing.T) {
	l, err := engine.ReadLookupCSV(strings.NewReader("store,plant\nberlin,P100\nmunich,P200\n"))
	if err != nil || string(l.Entries["berlin"]) != `"P100"` || len(l.Entries) != 2 {
		t.Errorf("two columns: %v %v", l, err)
	}
	l, err = engine.ReadLookupCSV(strings.NewReader("store,plant,org\nberlin,P100,DE01\n"))
	if err != nil || string(l.Entries["berlin"]) != `{"org":"DE01","plant":"P100"}` {
		t.Errorf("records: %s %v", l.Entries["berlin"], err)
	}
	for name, in := range map[string]string{
		"empty":      "",
		"one column": "key\nx\n",
		"duplicate":  "k,v\na,1\na,2\n",
		"ragged":     "k,v\na,1,extra\n",
		"bad quote":  "k,v\n\"a,1\n",
	} {
		if _, err := engine.ReadLookupCSV(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A CSV table replaces the definition's table of the same name.
	def := mustParse(t, []byte(`{"formatVersion":1,"name":"l","source":{"system":"s","event":"e"},"lookups":{"plant":{"entries":{"berlin":"OLD"}}},"targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[{"target":"p","expr":"lookup(\"plant\", source.s)"}]}]}`))
	csv, _ := engine.ReadLookupCSV(strings.NewReader("store,plant\nberlin,NEW\n"))
	p, err := engine.Compile(def, engine.Options{Lookups: map[string]engine.Lookup{"plant": csv}})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := p.Run(context.Background(), engine.Input{Payload: []byte(`{"s":"berlin"}`)})
	if string(res.Routes[0].Output) != `{"p":"NEW"}` {
		t.Errorf("output %s", res.Routes[0].Output)
	}
}

func compileErr(t *testing.T, def string) string {
	t.Helper()
	_, err := engine.Compile(mustParse(t, []byte(def)), engine.Options{})
	var de *engine.DefinitionError
	if !errors.As(err, &de) {
		t.Fatalf("expected a definition error, got %v", err)
	}
	return err.Error()
}

func TestCompileRejectsBadRowsAndNames(t *testing.T) {
	wrap := func(rows string) string {
		return `{"formatVersion":1,"name":"c","source":{"system":"s","event":"e"},"targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[` + rows + `]}]}`
	}
	for rows, want := range map[string]string{
		`{"target":"a","forEach":"source.l","as":"__x","expr":"1"}`:                                                `name "__x" is reserved`,
		`{"target":"a","forEach":"source.l","as":"upper","expr":"1"}`:                                              `name "upper" is a function`,
		`{"target":"a","forEach":"source.l","as":"x","index":"x","expr":"1"}`:                                      `index "x" has the same name as the item`,
		`{"target":"a","forEach":"source.l","value":1}`:                                                            `not a constant "value"`,
		`{"target":"a","as":"x","expr":"1"}`:                                                                       `"as", "index" and "filter" need "forEach"`,
		`{"target":"a","forEach":"source.l","as":"x","rows":[{"target":"b","forEach":"x.m","as":"x","expr":"1"}]}`: `name "x" is already in use`,
		`{"target":"a","expr":"lookup(source.t, 1)"}`:                                                              `lookup needs the table name as a quoted string`,
		`{"target":"a","expr":"1 +"}`:                                                                              `unexpected token EOF`,
	} {
		if got := compileErr(t, wrap(rows)); !strings.Contains(got, want) {
			t.Errorf("%s: %s\nwant %q", rows, got, want)
		}
	}
	bad := `{"formatVersion":1,"name":"c","source":{"system":"s","event":"e","schema":{"type":"nonsense"}},
	 "lookups":{"a":{"entries":{},"default":1}},
	 "targets":[{"name":"t","kind":"capture"},{"name":"t","kind":"http"}],
	 "routes":[{"name":"r","target":"t","mapping":[]},{"name":"r","target":"t","mapping":[]}]}`
	got := compileErr(t, bad)
	for _, want := range []string{"source schema is not a valid JSON Schema", `lookup "a" has a default but "missing" is not "default"`, `target name "t" is used twice`, `route name "r" is used twice`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestSchemaCheckFollowsItemsAndAdditionalProperties(t *testing.T) {
	def := func(expr string) string {
		return `{"formatVersion":1,"name":"c","source":{"system":"s","event":"e","schema":{"type":"object","properties":{
		  "open":{"type":"object","additionalProperties":true,"properties":{"a":{}}},
		  "typed":{"type":"object","additionalProperties":{"type":"object","properties":{"v":{}}},"properties":{}},
		  "pattern":{"type":"object","patternProperties":{"^x":{}},"properties":{}},
		  "list":{"type":"array","items":{"type":"object","properties":{"sku":{}}}},
		  "free":{"type":"object"},
		  "addr":{"$ref":"#/$defs/address"}},
		  "$defs":{"address":{"type":"object","properties":{"city":{},"lines":{"type":"array","items":{"$ref":"#/$defs/line"}}}},
		           "line":{"type":"object","properties":{"text":{}}}}}},
		 "targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[{"target":"a","expr":` + jsonString(expr) + `}]}]}`
	}
	for _, ok := range []string{"source.open.anything", "source.typed.k.v", "source.pattern.xyz", "source.list[0].sku", "source.free.x.y", "map(source.list, .sku)", "source.list", "source.addr.city", "source.addr.lines[0].text"} {
		if _, err := engine.Compile(mustParse(t, []byte(def(ok))), engine.Options{}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for expr, want := range map[string]string{
		"source.typed.k.w":         `unknown field "w" in source.typed.k`,
		"source.list[0].sk":        `unknown field "sk" in source.list.*; did you mean "sku"?`,
		"source.lst":               `did you mean "list"?`,
		"source.addr.cty":          `unknown field "cty" in source.addr; did you mean "city"?`,
		"source.addr.lines[0].txt": `unknown field "txt" in source.addr.lines.*; did you mean "text"?`,
	} {
		if got := compileErr(t, def(expr)); !strings.Contains(got, want) {
			t.Errorf("%s: %s\nwant %q", expr, got, want)
		}
	}
}

func TestMemberAccessOnOtherValues(t *testing.T) {
	for expr, want := range map[string]string{
		`source.s.x`:                  "!",
		`{"a": {"b": 2}}.a.b`:         "2",
		`lookup("rec", 1).a`:          "1",
		`source.missing.x`:            "!cannot fetch x from <nil>",
		`source.missing?.x`:           "null",
		`duration("1h").Hours()`:      "!Hours is a method of a value, which expressions cannot call",
		`now().Year()`:                "!Year is a method of a value, which expressions cannot call",
		`get(source, "n") + source.n`: "10",
	} {
		got, errMsg := evalOne(t, expr)
		if strings.HasPrefix(want, "!") {
			if errMsg == "" || !strings.Contains(errMsg, want[1:]) {
				t.Errorf("%s: %s %q, want error %q", expr, got, errMsg, want[1:])
			}
			continue
		}
		if string(got) != want || errMsg != "" {
			t.Errorf("%s = %s %q, want %s", expr, got, errMsg, want)
		}
	}
}

func TestRowErrorAndDiagnosticStrings(t *testing.T) {
	e := engine.RowError{Section: engine.SectionRow, Route: "erp", Path: "items[2].sku", Message: "boom"}
	if e.String() != `row "erp" items[2].sku: boom` {
		t.Error(e.String())
	}
	d := engine.Diagnostic{Section: engine.SectionKey, Pointer: "/keys/idempotency", Message: "bad"}
	if d.String() != "key (/keys/idempotency): bad" {
		t.Error(d.String())
	}
	one := &engine.DefinitionError{Diagnostics: []engine.Diagnostic{d}}
	if one.Error() != "definition has 1 problem:\nkey (/keys/idempotency): bad" {
		t.Error(one.Error())
	}
	f := engine.FieldDiff{Route: "r", Path: "a", Message: "m"}
	if f.String() != `route "r" a: m` {
		t.Error(f.String())
	}
}

// TestRunawayExpressionsStop: loops and repeated concatenation in an
// analyst's expression end the run with ErrLimit quickly instead of eating
// minutes of CPU or gigabytes of memory, and cancellation reaches inside
// a long loop.
func TestRunawayExpressionsStop(t *testing.T) {
	run := func(expr string, opts engine.Options, ctx context.Context) (time.Duration, error) {
		t.Helper()
		def := mustParse(t, []byte(`{"formatVersion":1,"name":"d","source":{"system":"s","event":"e"},"targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[{"target":"v","expr":`+jsonString(expr)+`}]}]}`))
		p, err := engine.Compile(def, opts)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		start := time.Now()
		_, err = p.Run(ctx, engine.Input{Payload: []byte(`{"s":"` + strings.Repeat("x", 1000) + `"}`)})
		return time.Since(start), err
	}
	for _, expr := range []string{
		`len(reduce(1..100000, #acc + "aaaaaaaaaa", ""))`, // quadratic concatenation
		`let a = source.s + source.s; let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; let g = f + f; let h = g + g; let i = h + h; let j = i + i; let k = j + j; let l = k + k; let m = l + l; let n = m + m; let o = n + n; let p = o + o; len(p + p)`,
		`len(join(map(1..200000, source.s), ""))`,
		`len(replace(replace(source.s, "x", source.s), "x", source.s))`,
		`len(regexReplace(regexReplace(source.s, "x", source.s), "x", source.s))`,
	} {
		took, err := run(expr, engine.Options{}, context.Background())
		if !errors.Is(err, engine.ErrLimit) {
			t.Errorf("%.60s: err = %v", expr, err)
		}
		if took > 5*time.Second {
			t.Errorf("%.60s took %v", expr, took)
		}
	}
	// Predicate iterations add up over rows: 3 × 600,000 > 1,000,000.
	steps := mustParse(t, []byte(`{"formatVersion":1,"name":"d","source":{"system":"s","event":"e"},"targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[{"target":"v","forEach":"1..3","expr":"count(1..600000, # > 0)"}]}]}`))
	if _, err := mustCompile(t, steps).Run(context.Background(), engine.Input{Payload: []byte(`{}`)}); !errors.Is(err, engine.ErrLimit) {
		t.Errorf("steps: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	took, err := run(`count(1..900000, len(source.s + "y") > 0)`, engine.Options{MaxSteps: 1 << 40, MaxWorkBytes: 1 << 40}, ctx)
	if !errors.Is(err, context.DeadlineExceeded) || took > 2*time.Second {
		t.Errorf("cancellation inside a loop: %v after %v", err, took)
	}
	// Ordinary use stays well inside the budgets.
	if _, err := run(`join(map(1..1000, string(#)), ",") + "!"`, engine.Options{}, context.Background()); err != nil {
		t.Error(err)
	}
}

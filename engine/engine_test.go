package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossdock/crossdock/engine"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func mustParse(t testing.TB, data []byte) *engine.Definition {
	t.Helper()
	def, err := engine.ParseDefinition(data)
	if err != nil {
		t.Fatalf("ParseDefinition: %v", err)
	}
	return def
}

func mustCompile(t testing.TB, def *engine.Definition) *engine.Program {
	t.Helper()
	p, err := engine.Compile(def, engine.Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func loadFlow(t testing.TB, name string) (*engine.Definition, *engine.Program) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "flows", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	def := mustParse(t, data)
	return def, mustCompile(t, def)
}

// golden compares got with testdata/<name>, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestFlows runs every shipped flow's own test cases and pins each
// sample's full result (outputs and trace) in a golden file.
func TestFlows(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "flows", "*.json"))
	if len(files) < 4 {
		t.Fatalf("expected the four retail flows, found %d", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			def, prog := loadFlow(t, name)
			if len(def.Tests) < 3 {
				t.Errorf("flow has %d test cases; templates need at least 3", len(def.Tests))
			}
			for _, r := range engine.RunTests(prog, def) {
				if !r.Passed {
					t.Errorf("test %q failed: %s %v", r.Name, r.Error, r.Diffs)
				}
			}
			var out bytes.Buffer
			for _, s := range def.Source.Samples {
				res, err := prog.Run(context.Background(), engine.Input{
					Payload: s.Payload, Now: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC), Trace: true, MapInvalid: true,
					Vars: map[string]string{"ERP_COMPANY": "1000", "REFUND_APPROVAL_LIMIT": "500", "MARKETPLACE_ENABLED": "true"},
				})
				if err != nil {
					t.Fatalf("sample %q: %v", s.Name, err)
				}
				b, _ := json.MarshalIndent(map[string]any{"sample": s.Name, "result": res}, "", "  ")
				out.Write(b)
				out.WriteByte('\n')
			}
			golden(t, filepath.Join("flows", name+".golden"), out.Bytes())
		})
	}
}

// TestCompileErrorsGolden pins the full text of definition errors:
// pointers, suggestions, line, column and caret.
func TestCompileErrorsGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "errors", "*.json"))
	if len(files) == 0 {
		t.Fatal("no error cases")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			def, err := engine.ParseDefinition(data)
			if err == nil {
				_, err = engine.Compile(def, engine.Options{})
			}
			var de *engine.DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("expected a *DefinitionError, got %v", err)
			}
			golden(t, filepath.Join("errors", name+".golden"), []byte(err.Error()+"\n"))
		})
	}
}

func TestCompileErrorDiagnosticFields(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "errors", "storefront-typos.json"))
	_, err := engine.Compile(mustParse(t, data), engine.Options{})
	var de *engine.DefinitionError
	if !errors.As(err, &de) {
		t.Fatal(err)
	}
	var found bool
	for _, d := range de.Diagnostics {
		if d.Pointer == "/routes/0/mapping/3/rows/0/expr" {
			found = true
			if d.Section != engine.SectionRow || d.Route != "erp" || d.Target != "lines[].sku" || d.Line != 1 || d.Column != 6 || !strings.Contains(d.Message, `did you mean "sku"?`) {
				t.Errorf("diagnostic = %+v", d)
			}
		}
	}
	if !found {
		t.Errorf("no diagnostic for the misspelt item field: %v", de)
	}
}

func TestParseDefinitionErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":    `{`,
		"wrong type":  `[]`,
		"huge number": `{"formatVersion":1,"name":"x","source":{"system":"s","event":"e"},"routes":[{"name":"r","target":"t","mapping":[]}],"tests":[{"name":"t","input":{},"expect":{},"now":"2026-01-01T00:00:00Z","vars":{"a":"b"}}],"keys":{"idempotency":"1e999999999999"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := engine.ParseDefinition([]byte(in))
			var de *engine.DefinitionError
			if name == "huge number" {
				if err != nil {
					t.Fatalf("a big number inside an expression string is fine: %v", err)
				}
				return
			}
			if !errors.As(err, &de) || len(de.Diagnostics) == 0 {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestCompileNil(t *testing.T) {
	if _, err := engine.Compile(nil, engine.Options{}); err == nil {
		t.Fatal("Compile(nil) succeeded")
	}
}

func TestCanonicalAndChecksum(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "flows", "storefront-order-to-erp.json"))
	a := mustParse(t, data)
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		t.Fatal(err)
	}
	b := mustParse(t, compact.Bytes())
	ca, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := b.Canonical()
	if !bytes.Equal(ca, cb) {
		t.Error("whitespace changed the canonical form")
	}
	if bytes.Contains(ca, []byte(`\u003e`)) {
		t.Error("canonical form escapes > in expressions")
	}
	sa, _ := a.Checksum()
	sb, _ := b.Checksum()
	if sa != sb || len(sa) != 64 {
		t.Errorf("checksums %q %q", sa, sb)
	}
	// Round trip: the canonical form parses to the same canonical form.
	c := mustParse(t, ca)
	cc, _ := c.Canonical()
	if !bytes.Equal(ca, cc) {
		t.Error("canonical form is not stable")
	}
	b.Routes[0].Mapping[0].Value = json.RawMessage(`"ZOR"`)
	if sc, _ := b.Checksum(); sc == sa {
		t.Error("a changed definition kept its checksum")
	}
	b.Routes[0].Mapping[0].Value = json.RawMessage(`{bad`)
	if _, err := b.Checksum(); err == nil {
		t.Error("invalid raw JSON was encoded")
	}
}

func TestProgramAccessors(t *testing.T) {
	_, p := loadFlow(t, "return-to-erp-credit-memo")
	if p.Name() != "return-to-erp-credit-memo" {
		t.Error(p.Name())
	}
	if got := strings.Join(p.Routes(), ","); got != "erp-credit-memo" {
		t.Error(got)
	}
	if got := strings.Join(p.Vars(), ","); got != "REFUND_APPROVAL_LIMIT" {
		t.Errorf("Vars = %q", got)
	}
	_, sf := loadFlow(t, "storefront-order-to-erp")
	if got := strings.Join(sf.Targets(), ","); got != "erp-sales-orders,crm-vip-orders" {
		t.Errorf("Targets = %q", got)
	}
}

// TestRunDeterministicAndConcurrent runs one program from many goroutines
// (go test -race checks the pooling) and requires byte-identical output.
func TestRunDeterministicAndConcurrent(t *testing.T) {
	def, p := loadFlow(t, "storefront-order-to-erp")
	in := engine.Input{Payload: def.Source.Samples[0].Payload, Now: time.Unix(1_773_480_000, 0).UTC(), Vars: map[string]string{"ERP_COMPANY": "1000"}}
	first, err := p.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := first.Routes[0].Output
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				r, err := p.Run(context.Background(), in)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(r.Routes[0].Output, want) {
					t.Errorf("output differs between runs:\n%s\n%s", r.Routes[0].Output, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestRunErrors(t *testing.T) {
	def, p := loadFlow(t, "storefront-order-to-erp")
	ctx := context.Background()
	if _, err := p.Run(ctx, engine.Input{Payload: []byte(`{"id":`)}); !errors.Is(err, engine.ErrInvalidInput) {
		t.Errorf("truncated JSON: %v", err)
	}
	if _, err := p.Run(ctx, engine.Input{Payload: []byte(`{"id": 1.2.3}`)}); !errors.Is(err, engine.ErrInvalidInput) {
		t.Errorf("bad number: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Run(cancelled, engine.Input{Payload: def.Source.Samples[0].Payload}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	small, err := engine.Compile(def, engine.Options{MaxInputBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Run(ctx, engine.Input{Payload: def.Source.Samples[0].Payload}); !errors.Is(err, engine.ErrLimit) {
		t.Errorf("input limit: %v", err)
	}
	out, _ := engine.Compile(def, engine.Options{MaxOutputBytes: 200})
	if _, err := out.Run(ctx, engine.Input{Payload: def.Source.Samples[0].Payload, Vars: map[string]string{"ERP_COMPANY": "1"}}); !errors.Is(err, engine.ErrLimit) {
		t.Errorf("output limit: %v", err)
	}
	items, _ := engine.Compile(def, engine.Options{MaxItems: 1})
	if _, err := items.Run(ctx, engine.Input{Payload: def.Source.Samples[0].Payload, Vars: map[string]string{"ERP_COMPANY": "1"}}); !errors.Is(err, engine.ErrLimit) {
		t.Errorf("items limit: %v", err)
	}
}

const miniDef = `{"formatVersion":1,"name":"mini","source":{"system":"s","event":"e"},
 "keys":{"idempotency":"source.id","correlation":"source.ref"},
 "validation":[{"name":"positive","rule":"source.n > 0","message":"n must be positive"},{"name":"typed","rule":"source.n","message":"n"}],
 "targets":[{"name":"t","kind":"capture"}],
 "routes":[
  {"name":"main","target":"t","mapping":[
    {"target":"a","expr":"source.a"},
    {"target":"b","expr":"source.b.c"},
    {"target":"div","expr":"decDiv(1, source.zero, 2)"},
    {"target":"skip","expr":"1","when":"false"},
    {"target":"nul","expr":"source.missing","omitNull":true},
    {"target":"list","forEach":"source.items","as":"x","index":"i","filter":"x != 2","expr":"x * 10 + i"},
    {"target":"bad","forEach":"source.a","expr":"1"},
    {"target":"deep.er","forEach":"source.items","as":"x","rows":[{"target":"v","expr":"x > 1 ? x : nil","omitNull":true}]},
    {"target":"badWhen","expr":"1","when":"source.a"},
    {"target":"badFilter","forEach":"source.items","as":"x","filter":"x","expr":"x"}
  ]},
  {"name":"never","target":"t","when":"source.n > 100","mapping":[{"target":"a","value":1}]},
  {"name":"broken","target":"t","when":"source.nope.x","mapping":[{"target":"a","value":1}]}
 ]}`

func TestRunRecordsEveryFailure(t *testing.T) {
	p := mustCompile(t, mustParse(t, []byte(miniDef)))
	res, err := p.Run(context.Background(), engine.Input{Payload: []byte(`{"id":7,"ref":{"x":1},"n":-1,"a":"A","b":{"c":[1,{"d":true}]},"zero":0,"items":[1,2,3]}`), Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Key != "7" || res.CorrelationID != `{"x":1}` {
		t.Errorf("key %q correlation %q", res.Key, res.CorrelationID)
	}
	if len(res.Validation) != 2 || res.Validation[0].Rule != "positive" || res.Validation[1].Error == "" {
		t.Errorf("validation = %+v", res.Validation)
	}
	if res.Valid() || len(res.Routes) != 0 {
		t.Error("invalid message was mapped")
	}
	res, err = p.Run(context.Background(), engine.Input{Payload: []byte(`{"id":7,"n":1,"a":"A","b":{"c":[1,{"d":true}]},"zero":0,"items":[1,2,3]}`), Trace: true, MapInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Validation) != 1 || res.Validation[0].Rule != "typed" {
		t.Errorf("validation = %+v", res.Validation)
	}
	main := res.Route("main")
	if main == nil || !main.Matched || main.Output != nil {
		t.Fatalf("main = %+v", main)
	}
	var paths []string
	pointers := map[string]string{}
	for _, e := range main.Errors {
		paths = append(paths, e.Path+": "+e.Message)
		pointers[e.Path] = e.Pointer
	}
	for path, want := range map[string]string{"div": "/routes/0/mapping/2/expr", "bad": "/routes/0/mapping/6/forEach", "badWhen": "/routes/0/mapping/8/when", "badFilter[0]": "/routes/0/mapping/9/filter"} {
		if pointers[path] != want {
			t.Errorf("error at %s has pointer %q, want %q", path, pointers[path], want)
		}
	}
	got := strings.Join(paths, "\n")
	for _, want := range []string{"div: decDiv: division by zero", "bad: forEach needs an array, got string", "badWhen: expected true or false, got string", "badFilter[0]: expected true or false, got int"} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	if !res.Failed() {
		t.Error("Failed() = false")
	}
	if r := res.Route("never"); r.Matched || r.Output != nil {
		t.Errorf("never = %+v", r)
	}
	if r := res.Route("broken"); r.Matched || len(r.Errors) != 1 || r.Errors[0].Section != engine.SectionCondition {
		t.Errorf("broken = %+v", r)
	}
	if res.Route("nope") != nil {
		t.Error("Route of unknown name")
	}
	trace := map[string]string{}
	for _, e := range res.Trace {
		if e.Route == "main" {
			v := string(e.Value)
			if e.Skipped {
				v = "skipped"
			}
			if e.Error != "" {
				v = "error"
			}
			trace[e.Path] = v
		}
	}
	for path, want := range map[string]string{"a": `"A"`, "b": `[1,{"d":true}]`, "skip": "skipped", "nul": "skipped", "list[0]": "10", "list[1]": "32", "deep.er[0].v": "skipped", "deep.er[1].v": "2", "div": "error"} {
		if trace[path] != want {
			t.Errorf("trace[%s] = %q, want %q (trace %v)", path, trace[path], want, trace)
		}
	}
}

func TestRunMapInvalidAndNullKey(t *testing.T) {
	p := mustCompile(t, mustParse(t, []byte(miniDef)))
	res, err := p.Run(context.Background(), engine.Input{Payload: []byte(`{"n":0,"items":[]}`), MapInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Key != "" || len(res.Routes) != 3 {
		t.Errorf("key %q, %d routes", res.Key, len(res.Routes))
	}
}

func TestRunKeyErrors(t *testing.T) {
	def := mustParse(t, []byte(`{"formatVersion":1,"name":"k","source":{"system":"s","event":"e"},"keys":{"idempotency":"source.a.b","correlation":"1/0 > 1 ? 1 : {\"x\": 1/0}"},"targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[]}]}`))
	p := mustCompile(t, def)
	res, err := p.Run(context.Background(), engine.Input{Payload: []byte(`{"a":null}`), Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || res.Errors[0].Section != engine.SectionKey {
		t.Errorf("errors = %+v", res.Errors)
	}
	if !res.Failed() || string(res.Routes[0].Output) != "{}" {
		t.Errorf("result = %+v", res)
	}
}

// TestSandbox checks that analysts' expressions cannot escape or exhaust
// the process.
func TestSandbox(t *testing.T) {
	base := `{"formatVersion":1,"name":"s","source":{"system":"s","event":"e"},"targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[{"target":"v","expr":%q}]}]}`
	compileErr := []string{
		`date("2026-01-01")`,             // builtin reading the local zone: disabled
		`timezone("UTC")`,                // disabled
		`repeat("x", 1000000)`,           // disabled
		strings.Repeat("1+", 3000) + "1", // MaxNodes
		`__run`,
	}
	for _, e := range compileErr {
		def := mustParse(t, []byte(strings.Replace(base, "%q", jsonString(e), 1)))
		if _, err := engine.Compile(def, engine.Options{}); err == nil {
			t.Errorf("%.40s compiled", e)
		}
	}
	runErr := []string{
		`map(1..100000000, #)`, // memory budget
		`padLeft("x", 100000, "y")`,
		`addBusinessDays(now(), 1000000)`,
		`regexMatch("x", "(")`,
	}
	for _, e := range runErr {
		def := mustParse(t, []byte(strings.Replace(base, "%q", jsonString(e), 1)))
		p := mustCompile(t, def)
		res, err := p.Run(context.Background(), engine.Input{Payload: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Routes[0].Errors) != 1 {
			t.Errorf("%s: %+v", e, res.Routes[0])
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestRunTestsReportsDiffs(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "flows", "inventory-adjustment-to-channel-stock.json"))
	def := mustParse(t, data)
	p := mustCompile(t, def)
	tc := def.Tests[0]
	var want map[string]any
	_ = json.Unmarshal(tc.Expect.Routes["storefront"], &want)
	want["reason"] = "other"
	want["extra"] = 1
	delete(want, "locationId")
	want["changes"] = []any{map[string]any{"sku": "TSHIRT-BLK-M", "available": 115.0}}
	b, _ := json.Marshal(want)
	tc.Expect.Routes = map[string]json.RawMessage{"storefront": b, "marketplace": json.RawMessage("null")}
	k := "wrong"
	tc.Expect.Key = &k
	tc.Expect.CorrelationID = &k
	tc.Expect.Validation = []string{"known-plant"}
	bad := tc
	bad.Name = "bad now"
	bad.Now = "never"
	badInput := tc
	badInput.Name = "bad input"
	badInput.Input = json.RawMessage(`[`)
	invalid := def.Tests[2]
	invalid.Expect.Routes = map[string]json.RawMessage{"storefront": json.RawMessage(`{}`)}
	invalid.Expect.Validation = nil
	noMatch := def.Tests[1]
	noMatch.Expect.Routes = map[string]json.RawMessage{"marketplace": json.RawMessage(`{}`), "storefront": json.RawMessage(`null`)}
	def.Tests = []engine.TestCase{tc, bad, badInput, invalid, noMatch}
	res := engine.RunTests(p, def)
	var lines []string
	for _, r := range res {
		if r.Passed {
			t.Errorf("%s passed", r.Name)
		}
		lines = append(lines, r.Name+": "+r.Error)
		for _, d := range r.Diffs {
			lines = append(lines, "  "+d.String())
		}
	}
	golden(t, "testcase-diffs.golden", []byte(strings.Join(lines, "\n")+"\n"))
}

// TestPublishedSchemaMatchesEmbedded keeps docs/definition.schema.json, the
// copy editors use, identical to the schema the binary validates with.
func TestPublishedSchemaMatchesEmbedded(t *testing.T) {
	published, err := os.ReadFile(filepath.Join("..", "docs", "definition.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(published, engine.DefinitionSchema) {
		t.Error("docs/definition.schema.json differs from engine/schema/definition.schema.json; copy it")
	}
	var v any
	if err := json.Unmarshal(engine.DefinitionSchema, &v); err != nil {
		t.Fatal(err)
	}
}

func TestSequenceKey(t *testing.T) {
	const head = `{"formatVersion":1,"name":"k","source":{"system":"s","event":"e"},"targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[]}],"keys":`
	t.Run("derived", func(t *testing.T) {
		p := mustCompile(t, mustParse(t, []byte(head+`{"sequence":"source.order_id","sequenceMode":"latest"}}`)))
		for payload, want := range map[string]string{`{"order_id":"A-1"}`: "A-1", `{"order_id":42}`: "42", `{"order_id":null}`: "", `{}`: ""} {
			res, err := p.Run(context.Background(), engine.Input{Payload: []byte(payload)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Sequence != want {
				t.Errorf("%s: sequence %q, want %q", payload, res.Sequence, want)
			}
		}
	})
	t.Run("checked when compiled", func(t *testing.T) {
		_, err := engine.Compile(mustParse(t, []byte(head+`{"sequence":"sourec.order_id"}}`)), engine.Options{})
		var de *engine.DefinitionError
		if !errors.As(err, &de) || de.Diagnostics[0].Pointer != "/keys/sequence" || de.Diagnostics[0].Section != engine.SectionSequence {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("mode needs a key", func(t *testing.T) {
		_, err := engine.Compile(mustParse(t, []byte(head+`{"sequenceMode":"fifo"}}`)), engine.Options{})
		var de *engine.DefinitionError
		if !errors.As(err, &de) || de.Diagnostics[0].Pointer != "/keys/sequenceMode" {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unknown mode", func(t *testing.T) {
		_, err := engine.ParseDefinition([]byte(head + `{"sequence":"source.id","sequenceMode":"newest"}}`))
		if err == nil {
			t.Error("sequenceMode newest parsed")
		}
	})
}

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

// lenientDef has one of every construct the designer shows a live value
// for: the three keys, two rules, a lookup, two routes (one with a
// condition), value, constant, conditional, object and for-each rows.
func lenientDef() *engine.Definition {
	return &engine.Definition{
		FormatVersion: 1, Name: "lenient",
		Source: engine.Source{System: "shop", Event: "order"},
		Keys:   engine.Keys{Idempotency: `"order-" + source.id`, Correlation: `source.name`, Channel: `source.channel`},
		Validation: []engine.Rule{
			{Name: "has-lines", Rule: `len(source.lines) > 0`, Message: "no lines"},
			{Name: "has-name", Rule: `source.name != ""`, Message: "no name"},
		},
		Lookups: map[string]engine.Lookup{"plant": {Entries: map[string]json.RawMessage{"s1": json.RawMessage(`"P100"`)}}},
		Targets: []engine.Target{{Name: "erp", Kind: engine.TargetCapture}, {Name: "crm", Kind: engine.TargetCapture}},
		Routes: []engine.Route{
			{Name: "erp-order", Target: "erp", Mapping: []engine.Row{
				{Target: "type", Value: json.RawMessage(`"ZWEB"`)},
				{Target: "reference", Expr: `upper(source.name)`},
				{Target: "note", Expr: `source.note`, When: `source.note != nil`},
				{Target: "lines", ForEach: `source.lines`, As: "line", Filter: `line.qty > 0`, Rows: []engine.Row{
					{Target: "sku", Expr: `line.sku`},
					{Target: "qty", Expr: `line.qty * 2`},
				}},
				{Target: "plant", Rows: []engine.Row{{Target: "code", Expr: `lookup("plant", source.store)`}}},
				{Target: "currency", Expr: `source.currency`},
			}},
			{Name: "crm-vip", Target: "crm", When: `source.vip`, Mapping: []engine.Row{
				{Target: "email", Expr: `lower(source.email)`},
			}},
		},
	}
}

var lenientPayload = []byte(`{"id": "42", "name": "#1001", "channel": "web", "note": "back door", "store": "s1", "currency": "EUR",
	"vip": true, "email": "ANA@SHOP.EXAMPLE", "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 0}, {"sku": "C", "qty": 3}]}`)

// traceByPointer keeps the first trace entry of each pointer, as the
// designer shows it.
func traceByPointer(res *engine.Result) map[string]engine.TraceEntry {
	out := map[string]engine.TraceEntry{}
	for _, e := range res.Trace {
		if _, ok := out[e.Pointer]; !ok {
			out[e.Pointer] = e
		}
	}
	return out
}

// reportsDisabled says whether the result reports the construct at
// pointer as disabled: a key, route or row error, or a trace entry.
func reportsDisabled(res *engine.Result, pointer string) bool {
	for _, e := range res.Errors {
		if e.Pointer == pointer && e.Disabled {
			return true
		}
	}
	for _, r := range res.Routes {
		for _, e := range r.Errors {
			if e.Pointer == pointer && e.Disabled {
				return true
			}
		}
	}
	for _, e := range res.Trace {
		if e.Pointer == pointer && e.Disabled {
			return true
		}
	}
	return false
}

// TestCompileLenientDisablesOnlyTheBrokenConstruct breaks each kind of
// construct in turn. The lenient program compiles, the broken construct
// carries its own diagnostic and reports it when run, and every other
// expression still has the value it has in the healthy definition. Strict
// Compile refuses the same definition with the same diagnostics.
func TestCompileLenientDisablesOnlyTheBrokenConstruct(t *testing.T) {
	run := func(t *testing.T, p *engine.Program) *engine.Result {
		t.Helper()
		res, err := p.Run(context.Background(), engine.Input{Payload: lenientPayload, Trace: true, MapInvalid: true})
		require.NoError(t, err)
		return res
	}
	healthy := run(t, mustCompile(t, lenientDef()))
	require.Empty(t, healthy.Errors)
	require.Len(t, healthy.Routes, 2)
	require.JSONEq(t, `{"type":"ZWEB","reference":"#1001","note":"back door","lines":[{"sku":"A","qty":2},{"sku":"C","qty":6}],"plant":{"code":"P100"},"currency":"EUR"}`, string(healthy.Routes[0].Output))
	want := traceByPointer(healthy)

	deep := strings.Repeat("(", 150) + "1" + strings.Repeat(")", 150)
	cases := []struct {
		name    string
		break_  func(d *engine.Definition)
		pointer string
		message string
		// affected are pointer prefixes whose values depend on the
		// broken construct; everything else must keep its value.
		affected []string
		// count is how many diagnostics there are (default 1).
		count int
		// reported overrides how the run shows the disabled construct.
		reported func(t *testing.T, res *engine.Result)
	}{
		{name: "idempotency key", break_: func(d *engine.Definition) { d.Keys.Idempotency = `"order-" + source.id +` },
			pointer: "/keys/idempotency", message: "unexpected token EOF"},
		{name: "correlation", break_: func(d *engine.Definition) { d.Keys.Correlation = `upper(source.name` },
			pointer: "/keys/correlation"},
		{name: "channel typo", break_: func(d *engine.Definition) { d.Keys.Channel = `sourec.channel` },
			pointer: "/keys/channel", message: `unknown name sourec; did you mean "source"?`},
		{name: "channel over the limits", break_: func(d *engine.Definition) { d.Keys.Channel = deep },
			pointer: "/keys/channel", message: "nests 150 levels deep"},
		{name: "rule", break_: func(d *engine.Definition) { d.Validation[0].Rule = `len(source.lines) >` },
			pointer: "/validation/0/rule",
			reported: func(t *testing.T, res *engine.Result) {
				require.Len(t, res.Validation, 1)
				require.Equal(t, "has-lines", res.Validation[0].Rule)
				require.Contains(t, res.Validation[0].Error, "unexpected token EOF")
			}},
		{name: "rule name used twice", break_: func(d *engine.Definition) { d.Validation[1].Name = "has-lines" },
			pointer: "/validation/1/name", message: `rule name "has-lines" is used twice`,
			reported: func(t *testing.T, res *engine.Result) {
				require.Len(t, res.Validation, 1)
				require.Equal(t, `rule name "has-lines" is used twice`, res.Validation[0].Error)
			}},
		{name: "route condition", break_: func(d *engine.Definition) { d.Routes[1].When = `source.vip ==` },
			pointer: "/routes/1/when"},
		{name: "route target", break_: func(d *engine.Definition) { d.Routes[1].Target = "crn" },
			pointer: "/routes/1/target", message: `unknown target "crn"; did you mean "crm"?`},
		{name: "row expression", break_: func(d *engine.Definition) { d.Routes[0].Mapping[1].Expr = `uper(source.name)` },
			pointer: "/routes/0/mapping/1/expr", message: `unknown name uper; did you mean "upper"?`},
		{name: "row when", break_: func(d *engine.Definition) { d.Routes[0].Mapping[2].When = `source.note !=` },
			pointer: "/routes/0/mapping/2/when"},
		{name: "for-each source", break_: func(d *engine.Definition) { d.Routes[0].Mapping[3].ForEach = `source.lines[` },
			pointer: "/routes/0/mapping/3/forEach", affected: []string{"/routes/0/mapping/3/"}},
		{name: "for-each filter", break_: func(d *engine.Definition) { d.Routes[0].Mapping[3].Filter = `line.qty >` },
			pointer: "/routes/0/mapping/3/filter"},
		{name: "for-each item name", break_: func(d *engine.Definition) { d.Routes[0].Mapping[3].As = "__line" },
			pointer: "/routes/0/mapping/3/as", message: "reserved", affected: []string{"/routes/0/mapping/3/"},
			// The filter and child rows use the name the row no longer
			// declares, and say so.
			count: 4},
		{name: "row inside a for-each", break_: func(d *engine.Definition) { d.Routes[0].Mapping[3].Rows[1].Expr = `line.qty *` },
			pointer: "/routes/0/mapping/3/rows/1/expr"},
		{name: "row inside an object", break_: func(d *engine.Definition) { d.Routes[0].Mapping[4].Rows[0].Expr = `lookup("plants", source.store)` },
			pointer: "/routes/0/mapping/4/rows/0/expr", message: `unknown lookup table "plants"; did you mean "plant"?`},
		{name: "row with two sources", break_: func(d *engine.Definition) { d.Routes[0].Mapping[5].Value = json.RawMessage(`"USD"`) },
			pointer: "/routes/0/mapping/5", message: `exactly one of "expr", "value" or "rows"`, affected: []string{"/routes/0/mapping/5/"}},
		{name: "target set twice", break_: func(d *engine.Definition) { d.Routes[0].Mapping[5].Target = "reference" },
			pointer: "/routes/0/mapping/5/target", message: `target "reference" is set twice`, affected: []string{"/routes/0/mapping/5/"}},
		{name: "lookup default", break_: func(d *engine.Definition) {
			d.Lookups["plant"] = engine.Lookup{Missing: engine.MissingDefault, Entries: d.Lookups["plant"].Entries}
		}, pointer: "/lookups/plant/missing", message: `has no "default"`,
			reported: func(t *testing.T, res *engine.Result) {}},
		{name: "time budget", break_: func(d *engine.Definition) { d.Limits = &engine.FlowLimits{TimeBudgetMs: -5} },
			pointer:  "/limits/timeBudgetMs",
			reported: func(t *testing.T, res *engine.Result) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			def := lenientDef()
			tc.break_(def)

			_, err := engine.Compile(def, engine.Options{})
			strict := diagnostics(t, err)

			p, diags := engine.CompileLenient(def, engine.Options{})
			require.NotNil(t, p, "the lenient program compiles")
			require.Equal(t, strict, diags, "the same diagnostics as Compile")
			require.Equal(t, diags, p.Diagnostics())
			if tc.count == 0 {
				tc.count = 1
			}
			require.Len(t, diags, tc.count, "%v", diags)
			require.Equal(t, tc.pointer, diags[0].Pointer)
			require.Contains(t, diags[0].Message, tc.message)

			res := run(t, p)
			if tc.reported != nil {
				tc.reported(t, res)
			} else {
				require.True(t, reportsDisabled(res, tc.pointer), "%s reports its diagnostic: %+v", tc.pointer, res)
			}
			got := traceByPointer(res)
			for ptr, w := range want {
				if ptr == tc.pointer || hasAnyPrefix(ptr, tc.affected) {
					continue
				}
				g, ok := got[ptr]
				require.True(t, ok, "%s has a live value", ptr)
				w.Path, g.Path = "", "" // a renamed rule
				require.Equal(t, w, g, "%s keeps its live value", ptr)
			}
			if tc.name == "time budget" {
				require.Equal(t, engine.DefaultTimeBudget, p.TimeBudget())
			}
		})
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestCompileLenientKeepsTheUntouchedRouteOutput: a broken row fails its
// own route; another route still produces its output, and a healthy
// definition compiles leniently to a program that maps exactly as the
// strict one does.
func TestCompileLenientKeepsTheUntouchedRouteOutput(t *testing.T) {
	in := engine.Input{Payload: lenientPayload, Now: time.Unix(0, 0).UTC()}
	strict, err := mustCompile(t, lenientDef()).Run(context.Background(), in)
	require.NoError(t, err)
	p, diags := engine.CompileLenient(lenientDef(), engine.Options{})
	require.Empty(t, diags)
	lenient, err := p.Run(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, strict, lenient)

	def := lenientDef()
	def.Routes[0].Mapping[1].Expr = `source.name +`
	p, diags = engine.CompileLenient(def, engine.Options{})
	require.Len(t, diags, 1)
	res, err := p.Run(context.Background(), in)
	require.NoError(t, err)
	require.True(t, res.Failed())
	erp, crm := res.Route("erp-order"), res.Route("crm-vip")
	require.Nil(t, erp.Output)
	require.Len(t, erp.Errors, 1)
	require.Equal(t, engine.RowError{Section: engine.SectionRow, Route: "erp-order", Path: "reference", Pointer: "/routes/0/mapping/1/expr", Message: "unexpected token EOF (1:13)", Disabled: true}, erp.Errors[0])
	require.JSONEq(t, `{"email":"ana@shop.example"}`, string(crm.Output))
	require.Equal(t, "order-42", res.Key)
}

// TestCompileLenientRefusesOnlyWhatItCannotCompileAround: a definition
// over a limit on its shape has no lenient program; nil has none either.
func TestCompileLenientRefusesOnlyWhatItCannotCompileAround(t *testing.T) {
	def := lenientDef()
	for range engine.MaxRoutes {
		def.Routes = append(def.Routes, def.Routes[1])
	}
	p, diags := engine.CompileLenient(def, engine.Options{})
	require.Nil(t, p)
	require.Len(t, diags, 1)
	require.Equal(t, "/routes", diags[0].Pointer)

	p, diags = engine.CompileLenient(nil, engine.Options{})
	require.Nil(t, p)
	require.NotEmpty(t, diags)
}

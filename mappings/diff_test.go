package mappings

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/crossdock/crossdock/engine"
)

var updateDiffGolden = flag.Bool("update-diff", false, "rewrite mappings/testdata/diff/*.diff.json from the current output")

// TestDiffGolden compares each pair testdata/diff/<case>.old.json and
// <case>.new.json with the expected changes in <case>.diff.json. The pairs
// are real definitions (they pass ParseDefinition), the same files an
// analyst exports from the designer.
func TestDiffGolden(t *testing.T) {
	olds, err := filepath.Glob(filepath.Join("testdata", "diff", "*.old.json"))
	if err != nil || len(olds) == 0 {
		t.Fatalf("no golden pairs found: %v", err)
	}
	for _, oldPath := range olds {
		name := strings.TrimSuffix(filepath.Base(oldPath), ".old.json")
		t.Run(name, func(t *testing.T) {
			old := diffReadDefinition(t, oldPath)
			new := diffReadDefinition(t, filepath.Join("testdata", "diff", name+".new.json"))
			got := diffIndent(t, Diff(old, new))
			goldenPath := filepath.Join("testdata", "diff", name+".diff.json")
			if *updateDiffGolden {
				if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run with -update-diff to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("diff of %s differs from %s:\n%s", name, goldenPath, got)
			}
		})
	}
}

// TestDiffOneExpressionIsOneChange is the designer's promise in one line:
// change one row's expression, publish, open the diff and see exactly that
// row changed.
func TestDiffOneExpressionIsOneChange(t *testing.T) {
	old := diffReadDefinition(t, filepath.Join("testdata", "diff", "one-expression.old.json"))
	new := diffReadDefinition(t, filepath.Join("testdata", "diff", "one-expression.new.json"))
	got := Diff(old, new).Changes
	want := []Change{{
		Section: SectionMapping, Route: "erp-sales-order", Path: "items[].material",
		Kind: ChangeChanged, Field: "expr",
		Old: `upper(trim(line.sku))`, New: `upper(trim(line.sku)) + "-" + source.store_id`,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestDiffIdenticalIsEmpty(t *testing.T) {
	for _, path := range diffFlowFiles(t) {
		def := diffReadDefinition(t, path)
		again := diffReadDefinition(t, path)
		if d := Diff(def, again); !d.Empty() {
			t.Errorf("%s against itself: %v", path, d.Changes)
		}
	}
	d := Diff(nil, nil)
	if !d.Empty() {
		t.Errorf("nil against nil: %v", d.Changes)
	}
	if b, _ := json.Marshal(d); string(b) != `{"changes":[]}` {
		t.Errorf("an empty diff should encode as an empty list, got %s", b)
	}
}

// TestDiffEmptyMeansSameChecksum mutates every example flow in many small
// ways and checks that Diff sees a change exactly when the checksum does,
// and never needs its catch-all "definition" change to do so.
func TestDiffEmptyMeansSameChecksum(t *testing.T) {
	mutations := map[string]func(d *engine.Definition){
		"nothing":        func(d *engine.Definition) {},
		"name":           func(d *engine.Definition) { d.Name += "-2" },
		"format version": func(d *engine.Definition) { d.FormatVersion = 2 },
		"schema dropped": func(d *engine.Definition) { d.Source.Schema = nil },
		"schema reformatted": func(d *engine.Definition) {
			if len(d.Source.Schema) > 0 {
				d.Source.Schema = diffReindent(t, d.Source.Schema)
			}
		},
		"sample reformatted":  func(d *engine.Definition) { d.Source.Samples[0].Payload = diffReindent(t, d.Source.Samples[0].Payload) },
		"sample renamed":      func(d *engine.Definition) { d.Source.Samples[0].Name += " (copy)" },
		"correlation dropped": func(d *engine.Definition) { d.Keys.Correlation = "" },
		"rule message":        func(d *engine.Definition) { d.Validation[0].Message += "!" },
		"rules swapped": func(d *engine.Definition) {
			if len(d.Validation) > 1 {
				d.Validation[0], d.Validation[1] = d.Validation[1], d.Validation[0]
			}
		},
		"target method":        func(d *engine.Definition) { d.Targets[0].Method = "PATCH" },
		"route note":           func(d *engine.Definition) { d.Routes[0].Mapping[0].Note = "why" },
		"route omitNull":       func(d *engine.Definition) { d.Routes[0].Mapping[0].OmitNull = !d.Routes[0].Mapping[0].OmitNull },
		"row value":            func(d *engine.Definition) { d.Routes[0].Mapping[0].Value = json.RawMessage(`"Z"`) },
		"row index name":       func(d *engine.Definition) { d.Routes[0].Mapping[0].Index = "n" },
		"row as name":          func(d *engine.Definition) { d.Routes[0].Mapping[0].As = "it" },
		"last row dropped":     func(d *engine.Definition) { m := &d.Routes[0].Mapping; *m = (*m)[:len(*m)-1] },
		"test now":             func(d *engine.Definition) { d.Tests[0].Now = "2030-01-01T00:00:00Z" },
		"test vars emptied":    func(d *engine.Definition) { d.Tests[0].Vars = map[string]string{} },
		"test var added":       func(d *engine.Definition) { d.Tests[0].Vars = map[string]string{"X": "1"} },
		"test expected key":    func(d *engine.Definition) { k := "other"; d.Tests[0].Expect.Key = &k },
		"test expected failed": func(d *engine.Definition) { d.Tests[0].Expect.Validation = []string{"x"} },
		"test expected mapping error": func(d *engine.Definition) {
			d.Tests[0].Expect.MappingError = &engine.MappingErrorExpectation{Contains: "division by zero"}
		},
		"test expected route": func(d *engine.Definition) {
			d.Tests[0].Expect.Routes = map[string]json.RawMessage{"x": json.RawMessage("null")}
		},
		"lookup default": func(d *engine.Definition) {
			diffFirstLookup(d, func(l *engine.Lookup) { l.Default = json.RawMessage(`"?"`) })
		},
		"lookup entry": func(d *engine.Definition) {
			diffFirstLookup(d, func(l *engine.Lookup) { l.Entries["new-key"] = json.RawMessage(`1`) })
		},
		"lookup missing": func(d *engine.Definition) { diffFirstLookup(d, func(l *engine.Lookup) { l.Missing = "default" }) },
		// Steps, replies and recorded responses (the write-back template has
		// them; for the others these change nothing).
		"step row note": func(d *engine.Definition) { diffFirstStep(d, func(st *engine.Step) { st.Mapping[0].Note = "why" }) },
		"step target":   func(d *engine.Definition) { diffFirstStep(d, func(st *engine.Step) { st.Target = "elsewhere" }) },
		"step dropped": func(d *engine.Definition) {
			diffFirstStep(d, func(st *engine.Step) { st.Mapping = st.Mapping[:len(st.Mapping)-1] })
		},
		"reply row changed": func(d *engine.Definition) {
			diffFirstRoute(d, func(r *engine.Route) bool { return len(r.Reply) > 0 }, func(r *engine.Route) { r.Reply[0].Expr += " " })
		},
		"test response status": func(d *engine.Definition) {
			for i := range d.Tests {
				for name, resp := range d.Tests[i].Responses {
					resp.Status++
					d.Tests[i].Responses[name] = resp
					return
				}
			}
		},
	}
	for _, path := range diffFlowFiles(t) {
		for name, mutate := range mutations {
			old := diffReadDefinition(t, path)
			new := diffReadDefinition(t, path)
			mutate(new)
			oc, _ := old.Canonical()
			nc, _ := new.Canonical()
			d := Diff(old, new)
			if d.Empty() != bytes.Equal(oc, nc) {
				t.Errorf("%s, %s: Empty()=%v but canonical equal=%v: %v", filepath.Base(path), name, d.Empty(), bytes.Equal(oc, nc), d.Changes)
			}
			for _, c := range d.Changes {
				if c.Section == SectionDefinition && c.Field == "definition" {
					t.Errorf("%s, %s: fell through to the catch-all change", filepath.Base(path), name)
				}
			}
		}
	}
}

// TestDiffComparesEveryField fails when the definition format grows a field
// that Diff does not compare yet: add it to Diff (and here) when it does.
func TestDiffComparesEveryField(t *testing.T) {
	t.Run("sla, channel and limits", func(t *testing.T) {
		old := &engine.Definition{FormatVersion: 1, Name: "f"}
		new := &engine.Definition{FormatVersion: 1, Name: "f", SLA: &engine.SLA{WithinSeconds: 30, ObjectivePercent: 99.5}, Keys: engine.Keys{Channel: "source.channel"}, Limits: &engine.FlowLimits{TimeBudgetMs: 2000}}
		var got []string
		for _, c := range Diff(old, new).Changes {
			got = append(got, c.Field+"="+c.New)
		}
		slices.Sort(got)
		if want := []string{"channel=source.channel", "limits.timeBudgetMs=2000 ms", "sla=99.5 % within 30 s"}; !slices.Equal(got, want) {
			t.Errorf("changes %v, want %v", got, want)
		}
	})
	compared := map[reflect.Type][]string{
		reflect.TypeFor[engine.Definition]():              {"FormatVersion", "Name", "Description", "Source", "Keys", "Validation", "Lookups", "Targets", "Routes", "Tests", "SLA", "Limits"},
		reflect.TypeFor[engine.Source]():                  {"System", "Event", "Schema", "Enforce", "Samples"},
		reflect.TypeFor[engine.Sample]():                  {"Name", "Payload"},
		reflect.TypeFor[engine.Keys]():                    {"Idempotency", "Correlation", "Channel", "Sequence", "SequenceMode", "Customer", "Amount"},
		reflect.TypeFor[engine.Rule]():                    {"Name", "Rule", "Message"},
		reflect.TypeFor[engine.Lookup]():                  {"Description", "Missing", "Default", "Entries"},
		reflect.TypeFor[engine.Target]():                  {"Name", "Kind", "Method", "Description"},
		reflect.TypeFor[engine.Route]():                   {"Name", "Description", "When", "Target", "Mapping", "TargetSchema", "UnmappedRequired", "Then", "Reply"},
		reflect.TypeFor[engine.Step]():                    {"Name", "Description", "When", "Target", "Mapping", "Then"},
		reflect.TypeFor[engine.Row]():                     {"Target", "Expr", "Value", "Rows", "ForEach", "As", "Index", "Filter", "When", "OmitNull", "Note"},
		reflect.TypeFor[engine.TestCase]():                {"Name", "Input", "Now", "Vars", "Responses", "Expect"},
		reflect.TypeFor[engine.Expectation]():             {"Key", "CorrelationID", "Validation", "Routes", "Steps", "MappingError"},
		reflect.TypeFor[engine.FlowLimits]():              {"TimeBudgetMs"},
		reflect.TypeFor[engine.MappingErrorExpectation](): {"Pointer", "Contains"},
	}
	for typ, fields := range compared {
		var have []string
		for i := range typ.NumField() {
			have = append(have, typ.Field(i).Name)
		}
		slices.Sort(have)
		want := slices.Clone(fields)
		slices.Sort(want)
		if !slices.Equal(have, want) {
			t.Errorf("%s has fields %v; Diff compares %v", typ, have, want)
		}
	}
}

func TestDiffRows(t *testing.T) {
	row := func(target, expr string) engine.Row { return engine.Row{Target: target, Expr: expr} }
	tests := []struct {
		name     string
		old, new []engine.Row
		want     []string
	}{
		{
			name: "insertion moves nothing",
			old:  []engine.Row{row("a", "1"), row("b", "2"), row("c", "3")},
			new:  []engine.Row{row("a", "1"), row("x", "9"), row("b", "2"), row("c", "3")},
			want: []string{`added mapping · route r · x`},
		},
		{
			name: "one row moved to the top is one move",
			old:  []engine.Row{row("a", "1"), row("b", "2"), row("c", "3"), row("d", "4")},
			new:  []engine.Row{row("d", "4"), row("a", "1"), row("b", "2"), row("c", "3")},
			want: []string{`moved mapping · route r · d · position: "4" → "1"`},
		},
		{
			name: "reversed: the row that kept its place is not moved",
			old:  []engine.Row{row("a", "1"), row("b", "2"), row("c", "3")},
			new:  []engine.Row{row("c", "3"), row("b", "2"), row("a", "1")},
			want: []string{`moved mapping · route r · c · position: "3" → "1"`, `moved mapping · route r · a · position: "1" → "3"`},
		},
		{
			name: "removed rows stay where they were",
			old:  []engine.Row{row("a", "1"), row("gone", "0"), row("b", "2"), row("first", "0")},
			new:  []engine.Row{row("a", "1"), row("b", "2")},
			want: []string{`removed mapping · route r · gone`, `removed mapping · route r · first`},
		},
		{
			name: "removed first row comes first",
			old:  []engine.Row{row("gone", "0"), row("a", "1")},
			new:  []engine.Row{row("new", "9"), row("a", "1")},
			want: []string{`removed mapping · route r · gone`, `added mapping · route r · new`},
		},
		{
			name: "renamed target is removed plus added",
			old:  []engine.Row{row("email", "source.email")},
			new:  []engine.Row{row("mail", "source.email")},
			want: []string{`removed mapping · route r · email`, `added mapping · route r · mail`},
		},
		{
			name: "duplicate targets match by occurrence",
			old:  []engine.Row{row("a", "1"), row("a", "2")},
			new:  []engine.Row{row("a", "1"), row("a", "3")},
			want: []string{`changed mapping · route r · a#2 · expr: "2" → "3"`},
		},
		{
			name: "group becoming a for-each names its rows with []",
			old:  []engine.Row{{Target: "line", Rows: []engine.Row{row("sku", "source.sku")}}},
			new:  []engine.Row{{Target: "line", ForEach: "source.lines", As: "l", Rows: []engine.Row{row("sku", "l.sku")}}},
			want: []string{
				`changed mapping · route r · line · forEach: "" → "source.lines"`,
				`changed mapping · route r · line · as: "" → "l"`,
				`changed mapping · route r · line[].sku · expr: "source.sku" → "l.sku"`,
			},
		},
		{
			name: "nested rows are matched inside their parent only",
			old:  []engine.Row{{Target: "soldTo", Rows: []engine.Row{row("name", "1")}}, {Target: "shipTo", Rows: []engine.Row{row("name", "2")}}},
			new:  []engine.Row{{Target: "soldTo", Rows: []engine.Row{row("name", "1")}}, {Target: "shipTo", Rows: []engine.Row{row("name", "3")}}},
			want: []string{`changed mapping · route r · shipTo.name · expr: "2" → "3"`},
		},
		{
			name: "value, when, filter and omitNull",
			old:  []engine.Row{{Target: "a", Value: json.RawMessage(`"x"`)}, {Target: "b", ForEach: "s", Expr: "item"}},
			new:  []engine.Row{{Target: "a", Value: json.RawMessage(` "y" `), When: "true", OmitNull: true}, {Target: "b", ForEach: "s", Expr: "item", Filter: "item > 0"}},
			want: []string{
				`changed mapping · route r · a · value: "\"x\"" → "\"y\""`,
				`changed mapping · route r · a · when: "" → "true"`,
				`changed mapping · route r · a · omitNull: "false" → "true"`,
				`changed mapping · route r · b · filter: "" → "item > 0"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := func(rows []engine.Row) *engine.Definition {
				return &engine.Definition{Routes: []engine.Route{{Name: "r", Target: "t", Mapping: rows}}}
			}
			var got []string
			for _, c := range Diff(def(tt.old), def(tt.new)).Changes {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestDiffAddedItemCarriesItsJSON(t *testing.T) {
	old := &engine.Definition{Routes: []engine.Route{{Name: "r", Target: "t"}}}
	new := &engine.Definition{Routes: []engine.Route{{Name: "r", Target: "t", Mapping: []engine.Row{
		{Target: "ok", Expr: `a < b && c > d`},
	}}}}
	got := Diff(old, new).Changes
	if len(got) != 1 || got[0].New != `{"target":"ok","expr":"a < b && c > d"}` {
		t.Fatalf("added row should carry its JSON unescaped: %v", got)
	}
	back := Diff(new, old).Changes
	if len(back) != 1 || back[0].Kind != ChangeRemoved || back[0].Old != got[0].New || back[0].New != "" {
		t.Fatalf("removed row should carry the same JSON as Old: %v", back)
	}
}

func TestDiffNilIsEmptyDefinition(t *testing.T) {
	def := &engine.Definition{Name: "f", Routes: []engine.Route{{Name: "r", Target: "t"}}}
	want := []string{`changed definition · name: "" → "f"`, `added routes · route r`}
	var got []string
	for _, c := range Diff(nil, def).Changes {
		got = append(got, c.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDiffJSONShape(t *testing.T) {
	b, err := json.Marshal(DefinitionDiff{Changes: []Change{{Section: SectionKeys, Kind: ChangeChanged, Field: "correlation", Old: "a", New: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"changes":[{"section":"keys","kind":"changed","field":"correlation","old":"a","new":"b"}]}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

func diffReadDefinition(t *testing.T, path string) *engine.Definition {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	def, err := engine.ParseDefinition(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return def
}

func diffFlowFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "engine", "testdata", "flows", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example flows: %v", err)
	}
	return files
}

// diffIndent renders a diff as the golden files hold it: indented, one
// change per block, < > & unescaped so expressions read as written.
func diffIndent(t *testing.T, d DefinitionDiff) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func diffReindent(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "\t\t"); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// diffFirstLookup edits the alphabetically first lookup table, if any.
// diffFirstRoute edits the first route that has what has asks for.
func diffFirstRoute(d *engine.Definition, has func(*engine.Route) bool, edit func(*engine.Route)) {
	for i := range d.Routes {
		if has(&d.Routes[i]) {
			edit(&d.Routes[i])
			return
		}
	}
}

// diffFirstStep edits the first step of the first route that has steps.
func diffFirstStep(d *engine.Definition, edit func(*engine.Step)) {
	diffFirstRoute(d, func(r *engine.Route) bool { return len(r.Then) > 0 }, func(r *engine.Route) { edit(&r.Then[0]) })
}

func diffFirstLookup(d *engine.Definition, edit func(*engine.Lookup)) {
	var names []string
	for name := range d.Lookups {
		names = append(names, name)
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	l := d.Lookups[names[0]]
	entries := make(map[string]json.RawMessage, len(l.Entries))
	for k, v := range l.Entries {
		entries[k] = v
	}
	l.Entries = entries
	edit(&l)
	d.Lookups[names[0]] = l
}

func TestDiffTestCasesFieldByField(t *testing.T) {
	base := func() *engine.Definition {
		return &engine.Definition{FormatVersion: 1, Name: "t", Tests: []engine.TestCase{{
			Name:  "two lines",
			Input: json.RawMessage(`{"id": 1, "lines": [{"sku": "tee", "qty": 2}, {"sku": "mug", "qty": 1}]}`),
			Expect: engine.Expectation{Routes: map[string]json.RawMessage{
				"erp": json.RawMessage(`{"order": "1", "items": [{"material": "TEE", "qty": 2}, {"material": "MUG", "qty": 1}]}`),
			}},
		}}}
	}
	tests := []struct {
		name string
		edit func(tc *engine.TestCase)
		want []Change
	}{
		{"one expected value in an array item", func(tc *engine.TestCase) {
			tc.Expect.Routes["erp"] = json.RawMessage(`{"items": [{"material": "TEE", "qty": 2}, {"qty": 1, "material": "MUG-1"}], "order": "1"}`)
		}, []Change{{Section: SectionTests, Path: "two lines", Kind: ChangeChanged, Field: "expect.routes.erp.items[1].material", Old: `"MUG"`, New: `"MUG-1"`}}},
		{"one input value", func(tc *engine.TestCase) {
			tc.Input = json.RawMessage(`{"id": 1, "lines": [{"sku": "tee", "qty": 3}, {"sku": "mug", "qty": 1}]}`)
		}, []Change{{Section: SectionTests, Path: "two lines", Kind: ChangeChanged, Field: "input.lines[0].qty", Old: `2`, New: `3`}}},
		{"an array of another length is one change", func(tc *engine.TestCase) {
			tc.Input = json.RawMessage(`{"id": 1, "lines": [{"sku": "tee", "qty": 2}]}`)
		}, []Change{{Section: SectionTests, Path: "two lines", Kind: ChangeChanged, Field: "input.lines",
			Old: `[{"qty":2,"sku":"tee"},{"qty":1,"sku":"mug"}]`, New: `[{"qty":2,"sku":"tee"}]`}}},
		{"a field only on one side", func(tc *engine.TestCase) {
			tc.Expect.Routes["erp"] = json.RawMessage(`{"order": "1", "note": "gift", "items": [{"material": "TEE", "qty": 2}, {"material": "MUG", "qty": 1}]}`)
		}, []Change{{Section: SectionTests, Path: "two lines", Kind: ChangeChanged, Field: "expect.routes.erp.note", New: `"gift"`}}},
		{"a route expected only now", func(tc *engine.TestCase) {
			tc.Expect.Routes["crm"] = json.RawMessage(`{"id": "1"}`)
		}, []Change{{Section: SectionTests, Path: "two lines", Kind: ChangeChanged, Field: "expect.routes.crm", New: `{"id":"1"}`}}},
		{"whitespace, key order and number spelling as written", func(tc *engine.TestCase) {
			tc.Input = json.RawMessage(`{"lines":[{"qty":2,"sku":"tee"},{"qty":1.0,"sku":"mug"}],"id":1}`)
		}, []Change{{Section: SectionTests, Path: "two lines", Kind: ChangeChanged, Field: "input.lines[1].qty", Old: `1`, New: `1.0`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, new := base(), base()
			tt.edit(&new.Tests[0])
			if got := Diff(old, new).Changes; !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestDiffKeyOrderAloneIsOneChange(t *testing.T) {
	old := &engine.Definition{FormatVersion: 1, Name: "t", Tests: []engine.TestCase{{Name: "c", Input: json.RawMessage(`{"a": 1, "b": 2}`)}}}
	new := &engine.Definition{FormatVersion: 1, Name: "t", Tests: []engine.TestCase{{Name: "c", Input: json.RawMessage(`{"b": 2, "a": 1}`)}}}
	want := []Change{{Section: SectionTests, Path: "c", Kind: ChangeChanged, Field: "input", Old: `{"a":1,"b":2}`, New: `{"b":2,"a":1}`}}
	if got := Diff(old, new).Changes; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/diagram"
	"github.com/crossdock/crossdock/web/view"
)

// designerState is what the designer shows: a flow, the definition being
// edited (the saved draft with the analyst's unsaved edits applied) and the
// selected sample.
type designerState struct {
	flow     mappings.Flow
	revision int
	def      *engine.Definition
	sample   int
	canEdit  bool
	now      time.Time
	tests    []engine.TestResult // set after "run all"
	// preview builds only what the live-preview fragments show (live
	// cells, outputs, problems, diagram), skipping the panels a keystroke
	// cannot change.
	preview bool
	// kept are fields whose typed text the draft did not take (see
	// applyEditsKeeping): shown as typed, with the reason.
	kept map[string]keptField
	// kinds are the target kinds the designer offers (Server.targetKinds).
	kinds []string
	// formats are the targets of the flow that receive another format
	// than JSON in some environment (release.FlowTargetFormats): each
	// route's output is also shown as it is sent there.
	formats []release.TargetFormat
	// picks are the source fields chosen in the routes' source panes
	// (route pointer → source path), kept across answers that did not use
	// them, such as a save.
	picks map[string]string
}

// buildDesigner compiles and runs the definition on the selected sample and
// turns the result into the page's view model: every field with its live
// value or error, each route's output, the problems list and the diagram.
func buildDesigner(ctx context.Context, st designerState) view.Designer {
	def := st.def
	d := view.Designer{
		Flow: view.FlowHeader{
			Slug: st.flow.Slug, Name: st.flow.Name, SourceSystem: def.Source.System, Event: def.Source.Event,
			LatestVersion: st.flow.LatestVersion, Revision: st.revision,
			UpdatedBy: st.flow.DraftUpdatedBy, UpdatedAt: st.flow.DraftUpdatedAt.UTC().Format("2006-01-02 15:04 UTC"),
		},
		CanEdit: st.canEdit,
	}
	if d.Flow.UpdatedBy == "" {
		d.Flow.UpdatedBy = "unknown"
	}
	if st.sample < 0 || st.sample >= len(def.Source.Samples) {
		st.sample = 0
	}
	d.SampleIndex = st.sample
	for i, s := range def.Source.Samples {
		so := view.SampleOption{Index: i, Name: s.Name, Selected: i == st.sample}
		if so.Selected && !st.preview {
			so.Payload = prettyJSON(s.Payload)
		}
		d.Samples = append(d.Samples, so)
	}

	prog, diags := compileForPreview(def, !st.preview)
	byPointer := map[string]engine.Diagnostic{}
	for _, dg := range diags {
		if _, seen := byPointer[dg.Pointer]; !seen {
			byPointer[dg.Pointer] = dg
		}
	}

	var res *engine.Result
	var runErr error
	if prog != nil && len(def.Source.Samples) > 0 {
		payload := def.Source.Samples[st.sample].Payload
		d.SamplePayload = string(payload)
		if !st.preview {
			d.Fields = fieldTree(payload)
		}
		res, runErr = prog.Run(ctx, engine.Input{Payload: payload, Now: st.now, Vars: previewVars(def), Trace: true, MapInvalid: true})
	}
	// Trace entries are found by the pointer of their expression; a
	// for-each row shows its first item's.
	trace := map[string]engine.TraceEntry{}
	rb := rowBuilder{at: map[string][]int{}}
	if res != nil {
		rb.trace, rb.ran = res.Trace, true
		for i, t := range res.Trace {
			if _, ok := trace[t.Pointer]; !ok && t.Pointer != "" {
				trace[t.Pointer] = t
			}
			rb.at[t.Pointer] = append(rb.at[t.Pointer], i)
		}
	}
	live := func(pointer string, isBool bool) view.Live {
		l := view.Live{ID: view.LiveID("live", pointer)}
		if dg, ok := byPointer[pointer]; ok {
			l.Error, l.Snippet = dg.Message, dg.Snippet
			return l
		}
		t, ok := trace[pointer]
		if !ok {
			return l
		}
		switch {
		case t.Error != "":
			l.Error = t.Error
		case t.Skipped:
			l.Skipped = true
		case isBool:
			l.Bool = string(t.Value)
		default:
			l.Value = shorten(string(t.Value), 160)
		}
		return l
	}
	field := func(pointer, value, label, placeholder string, isBool bool) view.Field {
		f := view.Field{Name: "f:" + pointer, Pointer: pointer, Value: value, Label: label, Placeholder: placeholder, Live: live(pointer, isBool)}
		if k, ok := st.kept[pointer]; ok {
			f.Value, f.Live.Error, f.Live.Snippet = k.text, k.problem, ""
		}
		return f
	}

	for name, lk := range def.Lookups {
		d.Lookups = append(d.Lookups, view.LookupSummary{Name: name, Description: lk.Description, Rows: len(lk.Entries)})
	}
	sort.Slice(d.Lookups, func(i, j int) bool { return d.Lookups[i].Name < d.Lookups[j].Name })
	for k, v := range previewVars(def) {
		d.Vars = append(d.Vars, k+" = "+v)
	}
	sort.Strings(d.Vars)
	d.Key = field("/keys/idempotency", def.Keys.Idempotency, "Idempotency key expression", "source.id", false)
	d.Correlation = field("/keys/correlation", def.Keys.Correlation, "Correlation id expression", "source.name", false)
	d.Channel = field("/keys/channel", def.Keys.Channel, "Channel expression", "source.channel", false)
	d.Sequence = field("/keys/sequence", def.Keys.Sequence, "Sequence key expression", "source.order_id", false)
	d.Customer = field("/keys/customer", def.Keys.Customer, "Customer expression", "source.customer.email", false)
	d.Amount = field("/keys/amount", def.Keys.Amount, "Amount expression", `string(source.total) + " " + source.currency`, false)
	d.DefaultSLA = fmt.Sprintf("%g %% within %d s", engine.DefaultSLA.ObjectivePercent, engine.DefaultSLA.WithinSeconds)
	d.SLAWithin = view.Field{Name: "f:/sla/withinSeconds", Pointer: "/sla/withinSeconds", Placeholder: strconv.Itoa(engine.DefaultSLA.WithinSeconds), Label: "SLA window in seconds"}
	d.SLAObjective = view.Field{Name: "f:/sla/objectivePercent", Pointer: "/sla/objectivePercent", Placeholder: strconv.FormatFloat(engine.DefaultSLA.ObjectivePercent, 'g', -1, 64), Label: "SLA objective in percent"}
	d.TimeBudget = view.Field{Name: "f:/limits/timeBudgetMs", Pointer: "/limits/timeBudgetMs", Placeholder: strconv.FormatInt(engine.DefaultTimeBudget.Milliseconds(), 10), Label: "Time budget per message in milliseconds"}
	if def.Limits != nil && def.Limits.TimeBudgetMs != 0 {
		d.TimeBudget.Value = strconv.Itoa(def.Limits.TimeBudgetMs)
	}
	if def.SLA != nil {
		d.SLAWithin.Value = strconv.Itoa(def.SLA.WithinSeconds)
		d.SLAObjective.Value = strconv.FormatFloat(def.SLA.ObjectivePercent, 'g', -1, 64)
	}
	for _, f := range []*view.Field{&d.SLAWithin, &d.SLAObjective, &d.TimeBudget} {
		if k, ok := st.kept[f.Pointer]; ok {
			f.Value = k.text
		}
	}
	for i, r := range def.Validation {
		ptr := fmt.Sprintf("/validation/%d", i)
		d.Rules = append(d.Rules, view.RuleView{
			Index: i, Name: r.Name, Pointer: ptr,
			Rule:    field(ptr+"/rule", r.Rule, "Rule "+r.Name, "len(source.line_items) > 0", true),
			Message: view.Field{Name: "f:" + ptr + "/message", Pointer: ptr + "/message", Value: r.Message, Label: "Message of rule " + r.Name},
		})
	}
	var sources []view.SourceNode
	if !st.preview {
		sources = sourceNodes(def, st.sample)
	}
	for i, rt := range def.Routes {
		ptr := fmt.Sprintf("/routes/%d", i)
		rv := view.RouteView{Index: i, Name: rt.Name, Target: rt.Target, AppendPointer: fmt.Sprintf("%s/mapping/%d", ptr, len(rt.Mapping))}
		rv.When = field(ptr+"/when", rt.When, "Condition of route "+rt.Name, "always", true)
		if rt.When == "" && rv.When.Live.Error == "" && res != nil {
			rv.When.Live.Bool = "true"
		}
		rb.field = field
		rv.Tree = rb.rows(ptr+"/mapping", rt.Name, rt.Mapping, 0, false)
		rv.Rows = flattenRows(rv.Tree)
		var output json.RawMessage
		if res != nil {
			if rr := res.Route(rt.Name); rr != nil {
				output = rr.Output
				rv.Matched = strconv.FormatBool(rr.Matched)
				if !rr.Matched && len(rr.Errors) > 0 {
					rv.Matched = "" // the condition failed, or did not compile
				}
				if len(rr.Output) > 0 {
					rv.Output = prettyJSON(rr.Output)
					rv.AsSent = asSent(st.formats, rt.Target, rr.Output)
				}
				for _, e := range rr.Errors {
					rv.Errors = append(rv.Errors, e.String())
				}
			}
		}
		rv.Panes = routePanes(rt, i, sources, output, field(ptr+"/targetSchema", indentJSON(rt.TargetSchema), "Target schema of route "+rt.Name, "", false))
		rv.Panes.Picked = st.picks[ptr]
		d.Routes = append(d.Routes, rv)
	}

	structureViews(&d, def, field, st.kinds)

	for _, dg := range diags {
		d.Problems = append(d.Problems, view.Diagnostic{Where: diagnosticWhere(dg), Message: dg.Message, Snippet: dg.Snippet, Anchor: anchorFor(dg.Pointer), Line: dg.Line, Column: dg.Column})
	}
	if runErr != nil {
		d.Problems = append(d.Problems, view.Diagnostic{Where: "sample " + def.Source.Samples[st.sample].Name, Message: runErr.Error()})
	}

	if prog != nil && !st.preview {
		for _, s := range def.Source.Samples {
			sr := view.SampleRun{Name: s.Name}
			r, err := prog.Run(ctx, engine.Input{Payload: s.Payload, Now: st.now, Vars: previewVars(def)})
			if err != nil {
				sr.Failed = []string{err.Error()}
				d.AllSamples = append(d.AllSamples, sr)
				continue
			}
			sr.Valid = r.Valid()
			for _, f := range r.Validation {
				sr.Failed = append(sr.Failed, f.Rule+": "+f.Message)
			}
			for _, rr := range r.Routes {
				if rr.Matched {
					sr.Routes = append(sr.Routes, rr.Name+" → "+rr.Target)
				}
				sr.Errors += len(rr.Errors)
			}
			d.AllSamples = append(d.AllSamples, sr)
		}
	}

	results := map[string]engine.TestResult{}
	for _, tr := range st.tests {
		results[tr.Name] = tr
	}
	d.TestsRan = st.tests != nil
	for i, tc := range def.Tests {
		tv := view.TestView{Index: i, Name: tc.Name}
		if !st.preview {
			tv.JSON = testCaseJSON(tc)
		}
		if tc.Expect.MappingError != nil {
			tv.ExpectsFailure = tc.Expect.MappingError.String()
		}
		if tr, ok := results[tc.Name]; ok {
			tv.Ran, tv.Passed, tv.Error = true, tr.Passed, tr.Error
			for _, df := range tr.Diffs {
				path := df.Path
				if df.Route != "" {
					path = df.Route + ": " + path
				}
				tv.Diffs = append(tv.Diffs, view.TestDiff{Path: path, Expected: shorten(string(df.Expected), 200), Actual: shorten(string(df.Actual), 200), Message: df.Message})
			}
		}
		d.Tests = append(d.Tests, tv)
	}

	highlight := map[string]bool{}
	if res != nil {
		for _, rr := range res.Routes {
			highlight[rr.Name] = rr.Matched
		}
	}
	links := map[string]string{}
	for _, rt := range def.Routes {
		links[rt.Name] = "#route-" + rt.Name
	}
	d.Diagram = templ.Raw(diagram.SVG(def, diagram.Options{Matched: highlight, RouteLinks: links}))

	if st.preview {
		return d
	}
	d.Hints = expressionHints(def, st.sample)
	for _, fn := range engine.Functions() {
		d.Functions = append(d.Functions, view.FunctionHelp{Name: fn.Name, Signature: fn.Signature, Description: fn.Description, Example: exampleText(fn), Category: fn.Category})
	}
	return d
}

// previewVars are the environment variables env("NAME") sees in the
// designer: those the definition's test cases set (the first value of each
// name wins). Environments get their own variables; the designer previews
// with the values its test cases are written against.
func previewVars(def *engine.Definition) map[string]string {
	vars := map[string]string{}
	for _, tc := range def.Tests {
		for k, v := range tc.Vars {
			if _, ok := vars[k]; !ok {
				vars[k] = v
			}
		}
	}
	return vars
}

func exampleText(fn engine.FunctionSpec) string {
	if fn.Example == "" {
		return ""
	}
	return fn.Example + " → " + fn.Result
}

type fieldFunc func(pointer, value, label, placeholder string, isBool bool) view.Field

// compileForPreview compiles the definition leniently: each broken
// construct is disabled with its diagnostic and every other one keeps its
// live value. checkSchema adds the JSON Schema's diagnostics, which the
// live preview skips. It returns every diagnostic once.
func compileForPreview(def *engine.Definition, checkSchema bool) (*engine.Program, []engine.Diagnostic) {
	var diags []engine.Diagnostic
	if canonical, err := def.Canonical(); checkSchema && err == nil {
		if _, err := engine.ParseDefinition(canonical); err != nil {
			diags = append(diags, diagnosticsOf(err)...)
		}
	}
	prog, compileDiags := engine.CompileLenient(def, engine.Options{})
	return prog, dedupe(append(diags, compileDiags...))
}

func dedupe(ds []engine.Diagnostic) []engine.Diagnostic {
	seen := map[string]bool{}
	var out []engine.Diagnostic
	for _, d := range ds {
		k := d.Pointer + "\x00" + d.Message
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

func diagnosticsOf(err error) []engine.Diagnostic {
	var de *engine.DefinitionError
	if errors.As(err, &de) {
		return de.Diagnostics
	}
	return []engine.Diagnostic{{Section: engine.SectionSchema, Message: err.Error()}}
}

func diagnosticWhere(d engine.Diagnostic) string {
	switch {
	case d.Route != "" && d.Target != "":
		return "route " + d.Route + ", " + d.Target
	case d.Route != "":
		return "route " + d.Route
	case d.Pointer != "":
		return d.Pointer
	}
	return string(d.Section)
}

func anchorFor(pointer string) string {
	if pointer == "" {
		return ""
	}
	return "in" + view.LiveID("live", pointer)
}

// fieldTree lists the sample's fields as expression paths, arrays through
// their first element, capped so a huge sample cannot flood the page.
func fieldTree(payload []byte) []view.FieldNode {
	var v any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return nil
	}
	var out []view.FieldNode
	var walk func(v any, path, label string, depth int)
	walk = func(v any, path, label string, depth int) {
		if len(out) >= 400 {
			return
		}
		switch t := v.(type) {
		case map[string]any:
			if depth > 0 {
				out = append(out, view.FieldNode{Path: path, Label: label, Depth: depth - 1, Kind: "object"})
			}
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(t[k], path+"."+k, k, depth+1)
			}
		case []any:
			out = append(out, view.FieldNode{Path: path, Label: label, Depth: depth - 1, Kind: fmt.Sprintf("array of %d", len(t))})
			if len(t) > 0 {
				walk(t[0], path+"[0]", label+"[0]", depth+1)
			}
		default:
			kind := "string"
			switch t.(type) {
			case json.Number:
				kind = "number"
			case bool:
				kind = "bool"
			case nil:
				kind = "null"
			}
			ex, _ := json.Marshal(t)
			out = append(out, view.FieldNode{Path: path, Label: label, Depth: depth - 1, Kind: kind, Example: shorten(string(ex), 40)})
		}
	}
	walk(v, "source", "source", 0)
	return out
}

func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// asSent is a route's output as each environment whose target of that
// name takes XML or CSV receives it.
func asSent(formats []release.TargetFormat, target string, output json.RawMessage) []view.SentBody {
	var out []view.SentBody
	for _, tf := range formats {
		if tf.Name != target {
			continue
		}
		sb := view.SentBody{Environment: tf.Environment, Target: tf.Target, Format: tf.Format.Label()}
		body, err := format.Encode(tf.Format, output)
		if err != nil {
			sb.Error = err.Error()
		} else {
			sb.Body = string(body)
		}
		out = append(out, sb)
	}
	return out
}

package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// TestResult is the outcome of one test case.
type TestResult struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	// Error is set when the case could not run at all (bad input JSON, a
	// limit, a bad "now").
	Error string `json:"error,omitempty"`
	// Diffs lists every difference between expected and actual.
	Diffs []FieldDiff `json:"diffs,omitempty"`
}

// FieldDiff is one difference. Expected and Actual are JSON, absent when the
// field is missing on that side.
type FieldDiff struct {
	// Route is the route compared, "" for key, correlation and validation.
	Route string `json:"route,omitempty"`
	// Path locates the field, e.g. "lines[1].quantity"; "" for the whole
	// output.
	Path     string          `json:"path"`
	Expected json.RawMessage `json:"expected,omitempty"`
	Actual   json.RawMessage `json:"actual,omitempty"`
	// Message explains the difference in words.
	Message string `json:"message"`
}

// String formats the diff on one line.
func (d FieldDiff) String() string {
	var b strings.Builder
	if d.Route != "" {
		fmt.Fprintf(&b, "route %q ", d.Route)
	}
	if d.Path != "" {
		b.WriteString(d.Path + ": ")
	}
	b.WriteString(d.Message)
	return b.String()
}

// RunTests runs every test case of def on prog (compiled from def) and
// compares results field by field. Numbers compare by value, so 19.9 and
// 19.90 are equal; object key order does not matter.
func RunTests(prog *Program, def *Definition) []TestResult {
	out := make([]TestResult, 0, len(def.Tests))
	for _, tc := range def.Tests {
		out = append(out, runTest(prog, tc))
	}
	return out
}

func runTest(prog *Program, tc TestCase) TestResult {
	tr := TestResult{Name: tc.Name}
	res, err := runCase(prog, tc)
	if err != nil {
		tr.Error = err.Error()
		return tr
	}
	var diffs []FieldDiff
	if want := tc.Expect.MappingError; want != nil {
		diffs = append(diffs, mappingErrorDiffs(want, res)...)
	} else {
		for _, e := range res.Errors {
			diffs = append(diffs, FieldDiff{Path: string(e.Section), Message: "failed: " + e.Message})
		}
	}
	if tc.Expect.Key != nil && *tc.Expect.Key != res.Key {
		diffs = append(diffs, scalarDiff("key", *tc.Expect.Key, res.Key))
	}
	if tc.Expect.CorrelationID != nil && *tc.Expect.CorrelationID != res.CorrelationID {
		diffs = append(diffs, scalarDiff("correlationId", *tc.Expect.CorrelationID, res.CorrelationID))
	}
	diffs = append(diffs, validationDiffs(tc.Expect.Validation, res.Validation)...)
	names := make([]string, 0, len(tc.Expect.Routes))
	for n := range tc.Expect.Routes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		got := res.Route(name)
		if tc.Expect.MappingError != nil && got != nil && len(got.Errors) > 0 {
			// The expected failure withholds this route's output.
			continue
		}
		diffs = append(diffs, routeDiffs(name, tc.Expect.Routes[name], got)...)
	}
	names = names[:0]
	for n := range tc.Expect.Steps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		got := res.Step(name)
		if got == nil {
			if res.Valid() && len(res.Errors) == 0 {
				diffs = append(diffs, FieldDiff{Route: name, Expected: tc.Expect.Steps[name],
					Message: "the step did not run: record the response of the step before it under \"responses\" (and check that one ran)"})
			}
			continue
		}
		if tc.Expect.MappingError != nil && len(got.Errors) > 0 {
			continue
		}
		diffs = append(diffs, routeDiffs(name, tc.Expect.Steps[name], got)...)
	}
	tr.Diffs = diffs
	tr.Passed = len(diffs) == 0
	return tr
}

// mappingErrors lists every failed expression of res: keys and
// correlation first, then each route's in definition order.
func mappingErrors(res *Result) []RowError {
	errs := append([]RowError(nil), res.Errors...)
	for _, rt := range res.Routes {
		errs = append(errs, rt.Errors...)
	}
	for _, st := range res.Steps {
		errs = append(errs, st.Errors...)
	}
	return errs
}

// Matches reports whether e is the expected failure.
func (m *MappingErrorExpectation) Matches(e RowError) bool {
	if m.Pointer != "" && e.Pointer != m.Pointer && !strings.HasPrefix(e.Pointer, strings.TrimSuffix(m.Pointer, "/")+"/") {
		return false
	}
	return strings.Contains(e.Message, m.Contains)
}

// String describes the expectation in words.
func (m *MappingErrorExpectation) String() string {
	s := "a mapping error"
	if m.Pointer != "" {
		s += " at " + m.Pointer
	}
	if m.Contains != "" {
		s += fmt.Sprintf(" containing %q", m.Contains)
	}
	return s
}

func mappingErrorDiffs(want *MappingErrorExpectation, res *Result) []FieldDiff {
	errs := mappingErrors(res)
	for _, e := range errs {
		if want.Matches(e) {
			return nil
		}
	}
	w, _ := json.Marshal(want)
	if len(errs) == 0 {
		return []FieldDiff{{Path: "mappingError", Expected: w, Message: "expected " + want.String() + ", but mapping succeeded"}}
	}
	got := make([]string, len(errs))
	for i, e := range errs {
		got[i] = e.Pointer + ": " + e.Message
	}
	a, _ := json.Marshal(MappingErrorExpectation{Pointer: errs[0].Pointer, Contains: errs[0].Message})
	return []FieldDiff{{Path: "mappingError", Expected: w, Actual: a,
		Message: "expected " + want.String() + ", got " + strings.Join(got, "; ")}}
}

// ExpectationOf is what a test case must expect to pass for res: the key,
// the correlation id, the failing rules, each route's output (null when it
// does not match) and, when an expression failed, the first failure as
// a mapping error. A route whose rows failed is left out of Routes. The
// designer saves it as a new case and "accepts actual as expected" with it.
func ExpectationOf(res *Result) Expectation {
	var x Expectation
	if res.Key != "" {
		k := res.Key
		x.Key = &k
	}
	if res.CorrelationID != "" {
		c := res.CorrelationID
		x.CorrelationID = &c
	}
	for _, v := range res.Validation {
		x.Validation = append(x.Validation, v.Rule)
	}
	if errs := mappingErrors(res); len(errs) > 0 {
		x.MappingError = &MappingErrorExpectation{Pointer: errs[0].Pointer, Contains: errs[0].Message}
	}
	if res.Valid() {
		x.Routes = map[string]json.RawMessage{}
		for _, rr := range res.Routes {
			switch {
			case len(rr.Errors) > 0:
			case rr.Matched:
				x.Routes[rr.Name] = append(json.RawMessage(nil), rr.Output...)
			default:
				x.Routes[rr.Name] = json.RawMessage("null")
			}
		}
		for _, st := range res.Steps {
			if x.Steps == nil {
				x.Steps = map[string]json.RawMessage{}
			}
			switch {
			case len(st.Errors) > 0:
			case st.Matched:
				x.Steps[st.Name] = append(json.RawMessage(nil), st.Output...)
			default:
				x.Steps[st.Name] = json.RawMessage("null")
			}
		}
	}
	return x
}

// Accept returns tc with its expectations replaced by what prog makes of
// its input now, for "accept actual as expected". A case that cannot run
// at all (bad input, a bad "now") is returned with the reason.
func Accept(prog *Program, tc TestCase) (TestCase, error) {
	res, err := runCase(prog, tc)
	if err != nil {
		return tc, err
	}
	tc.Expect = ExpectationOf(res)
	return tc, nil
}

func runCase(prog *Program, tc TestCase) (*Result, error) {
	in := Input{Payload: tc.Input, Vars: tc.Vars}
	if tc.Now != "" {
		t, err := parseTestNow(tc.Now)
		if err != nil {
			return nil, err
		}
		in.Now = t
	}
	return prog.RunChain(context.Background(), in, tc.Responses)
}

func scalarDiff(path, want, got string) FieldDiff {
	w, _ := json.Marshal(want)
	g, _ := json.Marshal(got)
	return FieldDiff{Path: path, Expected: w, Actual: g, Message: fmt.Sprintf("expected %s, got %s", w, g)}
}

func validationDiffs(want []string, got []ValidationFailure) []FieldDiff {
	var diffs []FieldDiff
	gotSet := map[string]ValidationFailure{}
	for _, f := range got {
		gotSet[f.Rule] = f
	}
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
		if _, ok := gotSet[w]; !ok {
			diffs = append(diffs, FieldDiff{Path: "validation." + w, Message: "expected rule to fail, but it held"})
		}
	}
	for _, f := range got {
		if !wantSet[f.Rule] {
			msg := "rule failed unexpectedly: " + f.Message
			if f.Error != "" {
				msg += " (" + f.Error + ")"
			}
			diffs = append(diffs, FieldDiff{Path: "validation." + f.Rule, Message: msg})
		}
	}
	return diffs
}

func routeDiffs(name string, want json.RawMessage, got *RouteResult) []FieldDiff {
	expectMatch := !bytes.Equal(bytes.TrimSpace(want), []byte("null"))
	switch {
	case got == nil:
		// Validation failed and routes were not evaluated.
		if expectMatch {
			return []FieldDiff{{Route: name, Expected: want, Message: "expected an output, but routes did not run (validation failed)"}}
		}
		return nil
	case len(got.Errors) > 0:
		var diffs []FieldDiff
		for _, e := range got.Errors {
			diffs = append(diffs, FieldDiff{Route: name, Path: e.Path, Message: "failed: " + e.Message})
		}
		return diffs
	case !got.Matched && expectMatch:
		return []FieldDiff{{Route: name, Expected: want, Message: "expected the route to match, but its condition was false"}}
	case got.Matched && !expectMatch:
		return []FieldDiff{{Route: name, Actual: got.Output, Message: "expected the route not to match"}}
	case !got.Matched:
		return nil
	}
	w, err := decodeUseNumber(want)
	if err != nil {
		return []FieldDiff{{Route: name, Message: "expected output is not JSON: " + err.Error()}}
	}
	g, err := decodeUseNumber(got.Output)
	if err != nil {
		return []FieldDiff{{Route: name, Message: "output is not JSON: " + err.Error()}}
	}
	var diffs []FieldDiff
	diffValues(name, "", w, g, &diffs)
	return diffs
}

func decodeUseNumber(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func rawJSON(v any) json.RawMessage {
	b, _ := appendValue(nil, v)
	return b
}

func diffValues(route, path string, want, got any, diffs *[]FieldDiff) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			wv, wok := w[k]
			gv, gok := g[k]
			switch {
			case !gok:
				*diffs = append(*diffs, FieldDiff{Route: route, Path: p, Expected: rawJSON(wv), Message: fmt.Sprintf("missing; expected %s", rawJSON(wv))})
			case !wok:
				*diffs = append(*diffs, FieldDiff{Route: route, Path: p, Actual: rawJSON(gv), Message: fmt.Sprintf("unexpected field with %s", rawJSON(gv))})
			default:
				diffValues(route, p, wv, gv, diffs)
			}
		}
		return
	case []any:
		g, ok := got.([]any)
		if !ok {
			break
		}
		for i := 0; i < max(len(w), len(g)); i++ {
			p := path + "[" + strconv.Itoa(i) + "]"
			switch {
			case i >= len(g):
				*diffs = append(*diffs, FieldDiff{Route: route, Path: p, Expected: rawJSON(w[i]), Message: fmt.Sprintf("missing item; expected %s", rawJSON(w[i]))})
			case i >= len(w):
				*diffs = append(*diffs, FieldDiff{Route: route, Path: p, Actual: rawJSON(g[i]), Message: fmt.Sprintf("unexpected item %s", rawJSON(g[i]))})
			default:
				diffValues(route, p, w[i], g[i], diffs)
			}
		}
		return
	case json.Number:
		if g, ok := got.(json.Number); ok {
			wd, err1 := decimal.NewFromString(w.String())
			gd, err2 := decimal.NewFromString(g.String())
			if err1 == nil && err2 == nil && wd.Equal(gd) {
				return
			}
		}
	default:
		if want == got {
			return
		}
	}
	*diffs = append(*diffs, FieldDiff{Route: route, Path: path, Expected: rawJSON(want), Actual: rawJSON(got),
		Message: fmt.Sprintf("expected %s, got %s", rawJSON(want), rawJSON(got))})
}

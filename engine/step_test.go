package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
)

// stepDef is the write-back flow: the order goes to the ERP (route
// "erp"), the ERP's document number goes back to the OMS (step
// "writeback"), and a notification follows the write-back.
const stepDef = `{
  "formatVersion": 1, "name": "order-writeback",
  "source": {"system": "storefront", "event": "order.created"},
  "targets": [{"name": "erp", "kind": "http"}, {"name": "oms", "kind": "http"}, {"name": "mail", "kind": "capture"}],
  "routes": [{
    "name": "erp", "target": "erp",
    "mapping": [{"target": "orderId", "expr": "source.id"}],
    "then": [{
      "name": "writeback", "target": "oms",
      "when": "response.status == 201",
      "mapping": [
        {"target": "order", "expr": "source.id"},
        {"target": "documentNumber", "expr": "response.body.documentNumber"},
        {"target": "location", "expr": "response.headers.location"}
      ],
      "then": [{
        "name": "notify", "target": "mail",
        "mapping": [
          {"target": "text", "expr": "'booked ' + steps.erp.response.body.documentNumber + ' (' + string(steps.writeback.response.status) + ')'"}
        ]
      }]
    }, {
      "name": "audit", "target": "mail",
      "mapping": [{"target": "raw", "expr": "response.body"}]
    }]
  }]
}`

func stepProgram(t *testing.T) *engine.Program {
	t.Helper()
	def, err := engine.ParseDefinition([]byte(stepDef))
	require.NoError(t, err)
	p, err := engine.Compile(def, engine.Options{})
	require.NoError(t, err)
	return p
}

func TestStepsRun(t *testing.T) {
	payload := []byte(`{"id": "SO-1"}`)
	erpAnswer := engine.Response{Status: 201, Headers: map[string]string{"Location": "/orders/D-77"}, Body: json.RawMessage(`{"documentNumber": "D-77"}`)}

	t.Run("a step maps the answer of the step before it", func(t *testing.T) {
		steps, err := stepProgram(t).RunSteps(context.Background(), engine.StepInput{
			Input: engine.Input{Payload: payload}, After: "erp",
			Responses: map[string]engine.Response{"erp": erpAnswer},
		})
		require.NoError(t, err)
		require.Len(t, steps, 2)
		require.Equal(t, "writeback", steps[0].Name)
		require.Equal(t, "oms", steps[0].Target)
		require.True(t, steps[0].Matched)
		require.Empty(t, steps[0].Errors)
		require.JSONEq(t, `{"order": "SO-1", "documentNumber": "D-77", "location": "/orders/D-77"}`, string(steps[0].Output))
		require.Equal(t, "audit", steps[1].Name)
		require.JSONEq(t, `{"raw": {"documentNumber": "D-77"}}`, string(steps[1].Output))
	})

	t.Run("a later step reads earlier steps by name", func(t *testing.T) {
		steps, err := stepProgram(t).RunSteps(context.Background(), engine.StepInput{
			Input: engine.Input{Payload: payload}, After: "writeback",
			Responses: map[string]engine.Response{"erp": erpAnswer, "writeback": {Status: 204}},
		})
		require.NoError(t, err)
		require.Len(t, steps, 1)
		require.JSONEq(t, `{"text": "booked D-77 (204)"}`, string(steps[0].Output))
	})

	t.Run("a false condition skips the step", func(t *testing.T) {
		steps, err := stepProgram(t).RunSteps(context.Background(), engine.StepInput{
			Input: engine.Input{Payload: payload}, After: "erp",
			Responses: map[string]engine.Response{"erp": {Status: 200, Body: json.RawMessage(`{}`)}},
		})
		require.NoError(t, err)
		require.False(t, steps[0].Matched)
		require.Nil(t, steps[0].Output)
	})

	t.Run("a body that is not JSON is a string", func(t *testing.T) {
		steps, err := stepProgram(t).RunSteps(context.Background(), engine.StepInput{
			Input: engine.Input{Payload: payload}, After: "erp",
			Responses: map[string]engine.Response{"erp": {Status: 202, Body: json.RawMessage(`"accepted"`)}},
		})
		require.NoError(t, err)
		require.JSONEq(t, `{"raw": "accepted"}`, string(steps[1].Output))
	})

	t.Run("a row failing on the answer is a row error of the step", func(t *testing.T) {
		steps, err := stepProgram(t).RunSteps(context.Background(), engine.StepInput{
			Input: engine.Input{Payload: payload}, After: "writeback",
			Responses: map[string]engine.Response{"erp": {Status: 201}, "writeback": {Status: 204}},
		})
		require.NoError(t, err)
		require.Len(t, steps[0].Errors, 1)
		require.Equal(t, "/routes/0/then/0/then/0/mapping/0/expr", steps[0].Errors[0].Pointer)
		require.Equal(t, "notify", steps[0].Errors[0].Route)
	})

	t.Run("an unknown step is refused", func(t *testing.T) {
		_, err := stepProgram(t).RunSteps(context.Background(), engine.StepInput{
			Input: engine.Input{Payload: payload}, After: "nope", Responses: map[string]engine.Response{"nope": {}},
		})
		require.ErrorIs(t, err, engine.ErrUnknownStep)
	})

	t.Run("the answer of the step before is required", func(t *testing.T) {
		_, err := stepProgram(t).RunSteps(context.Background(), engine.StepInput{
			Input: engine.Input{Payload: payload}, After: "erp",
		})
		require.ErrorIs(t, err, engine.ErrUnknownStep)
	})

	t.Run("a body over the input limit is refused", func(t *testing.T) {
		def, err := engine.ParseDefinition([]byte(stepDef))
		require.NoError(t, err)
		p, err := engine.Compile(def, engine.Options{MaxInputBytes: 64})
		require.NoError(t, err)
		big := json.RawMessage(`"` + strings.Repeat("x", 100) + `"`)
		_, err = p.RunSteps(context.Background(), engine.StepInput{
			Input: engine.Input{Payload: payload}, After: "erp",
			Responses: map[string]engine.Response{"erp": {Status: 201, Body: big}},
		})
		require.ErrorIs(t, err, engine.ErrInvalidInput)
	})

	t.Run("chain, then and targets", func(t *testing.T) {
		p := stepProgram(t)
		require.Equal(t, []string{"erp", "writeback", "notify"}, p.Chain("notify"))
		require.Equal(t, []string{"writeback", "audit"}, p.Then("erp"))
		require.Empty(t, p.Then("audit"))
		require.Equal(t, []string{"erp", "oms", "mail"}, p.Targets())
		target, ok := p.StepTarget("writeback")
		require.True(t, ok)
		require.Equal(t, "oms", target)
	})

	t.Run("RunChain maps as far as recorded answers reach", func(t *testing.T) {
		res, err := stepProgram(t).RunChain(context.Background(), engine.Input{Payload: payload}, map[string]engine.Response{"erp": erpAnswer})
		require.NoError(t, err)
		require.Len(t, res.Steps, 2)
		require.Nil(t, res.Step("notify"))
	})
}

// stepWith returns the write-back definition with the write-back step's
// document number row replaced by expr.
func stepWith(expr string) *engine.Definition {
	def, err := engine.ParseDefinition([]byte(stepDef))
	if err != nil {
		panic(err)
	}
	def.Routes[0].Then[0].Mapping[1].Expr = expr
	return def
}

func TestStepReferencesCheckedAtCompile(t *testing.T) {
	cases := []struct {
		name, expr, pointer, message string
	}{
		{"unknown step", "steps.erpp.response.body", "/routes/0/then/0/mapping/1/expr", `unknown step "erpp"; did you mean "erp"?`},
		{"a step after this one", "steps.notify.response.body", "/routes/0/then/0/mapping/1/expr", `step "notify" does not come before this one; a step reads the answers of the steps it follows: erp`},
		{"a sibling", "steps.audit.response.body", "/routes/0/then/0/mapping/1/expr", `step "audit" does not come before this one`},
		{"itself", "steps.writeback.response.body", "/routes/0/then/0/mapping/1/expr", `step "writeback" does not come before this one`},
		{"not the response", "steps.erp.body", "/routes/0/then/0/mapping/1/expr", "a step's entry has only its response: write steps.erp.response"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := engine.Compile(stepWith(tc.expr), engine.Options{})
			d := diagnostics(t, err)
			require.Len(t, d, 1, "%v", d)
			require.Equal(t, tc.pointer, d[0].Pointer)
			require.Equal(t, engine.SectionRow, d[0].Section)
			require.Contains(t, d[0].Message, tc.message)
			require.Equal(t, 1, d[0].Line)
			require.Equal(t, 7, d[0].Column, "the caret points at the step's name")
		})
	}

	t.Run("response in a route's own mapping", func(t *testing.T) {
		def := stepWith("response.body.documentNumber")
		def.Routes[0].Mapping[0].Expr = "response.status"
		_, err := engine.Compile(def, engine.Options{})
		d := diagnostics(t, err)
		require.Len(t, d, 1)
		require.Equal(t, "/routes/0/mapping/0/expr", d[0].Pointer)
		require.Contains(t, d[0].Message, "response and steps are known only in a step's expressions")
	})

	t.Run("a step name used twice", func(t *testing.T) {
		def := stepWith("response.body.documentNumber")
		def.Routes[0].Then[1].Name = "writeback"
		_, err := engine.Compile(def, engine.Options{})
		d := diagnostics(t, err)
		require.Len(t, d, 1)
		require.Equal(t, "/routes/0/then/1/name", d[0].Pointer)
		require.Equal(t, engine.SectionStep, d[0].Section)
		require.Contains(t, d[0].Message, `step name "writeback" is used twice`)
	})

	t.Run("a step named like a route", func(t *testing.T) {
		def := stepWith("response.body.documentNumber")
		def.Routes[0].Then[1].Name = "erp"
		_, err := engine.Compile(def, engine.Options{})
		d := diagnostics(t, err)
		require.Len(t, d, 1)
		require.Equal(t, "/routes/0/then/1/name", d[0].Pointer)
		require.Contains(t, d[0].Message, `is also a route's name`)
	})

	t.Run("an unknown target", func(t *testing.T) {
		def := stepWith("response.body.documentNumber")
		def.Routes[0].Then[0].Then[0].Target = "mial"
		_, err := engine.Compile(def, engine.Options{})
		d := diagnostics(t, err)
		require.Len(t, d, 1)
		require.Equal(t, "/routes/0/then/0/then/0/target", d[0].Pointer)
		require.Contains(t, d[0].Message, `unknown target "mial"; did you mean "mail"?`)
	})

	t.Run("a bad condition", func(t *testing.T) {
		def := stepWith("response.body.documentNumber")
		def.Routes[0].Then[0].When = "steps.nope.response.status == 201"
		_, err := engine.Compile(def, engine.Options{})
		d := diagnostics(t, err)
		require.Len(t, d, 1)
		require.Equal(t, "/routes/0/then/0/when", d[0].Pointer)
		require.Equal(t, engine.SectionStep, d[0].Section)
	})

	t.Run("lenient compile disables only the step's row", func(t *testing.T) {
		p, d := engine.CompileLenient(stepWith("steps.nope.response"), engine.Options{})
		require.Len(t, d, 1)
		steps, err := p.RunSteps(context.Background(), engine.StepInput{
			Input: engine.Input{Payload: []byte(`{"id": "SO-1"}`)}, After: "erp",
			Responses: map[string]engine.Response{"erp": {Status: 201}},
		})
		require.NoError(t, err)
		require.Len(t, steps[0].Errors, 1)
		require.True(t, steps[0].Errors[0].Disabled)
		require.Empty(t, steps[1].Errors)
	})
}

func TestStepLimitsCheckedBeforeCompiling(t *testing.T) {
	t.Run("too deep", func(t *testing.T) {
		def := limitDef("", "source.a")
		var chain []engine.Step
		for i := engine.MaxStepDepth; i >= 0; i-- {
			chain = []engine.Step{{Name: fmt.Sprintf("s%d", i), Target: "t", Mapping: []engine.Row{{Target: "x", Expr: "(("}}, Then: chain}}
		}
		def.Routes[0].Then = chain
		err := engine.CheckLimits(def)
		d := diagnostics(t, err)
		require.Len(t, d, 1, "the unparsable expressions are not reached")
		require.Equal(t, "/routes/0/then"+strings.Repeat("/0/then", engine.MaxStepDepth), d[0].Pointer)
		require.Equal(t, "steps nest more than 10 levels deep; at most 10 are allowed", d[0].Message)
		_, err = engine.Compile(def, engine.Options{})
		require.Equal(t, d, diagnostics(t, err))
	})

	t.Run("too many", func(t *testing.T) {
		def := limitDef("", "source.a")
		for i := range engine.MaxFlowSteps + 1 {
			def.Routes[0].Then = append(def.Routes[0].Then, engine.Step{Name: fmt.Sprintf("s%d", i), Target: "t", Mapping: []engine.Row{{Target: "x", Expr: "(("}}})
		}
		d := diagnostics(t, engine.CheckLimits(def))
		require.Len(t, d, 1)
		require.Equal(t, "/routes", d[0].Pointer)
		require.Equal(t, "the definition has 101 steps; at most 100 are allowed", d[0].Message)
	})

	t.Run("a step's expression over the limits", func(t *testing.T) {
		def := limitDef("", "source.a")
		def.Routes[0].Then = []engine.Step{{Name: "s", Target: "t", Mapping: []engine.Row{{Target: "x", Expr: strings.Repeat("(", 200) + strings.Repeat(")", 200)}}}}
		d := diagnostics(t, engine.CheckLimits(def))
		require.Len(t, d, 1)
		require.Equal(t, "/routes/0/then/0/mapping/0/expr", d[0].Pointer)
	})
}

func TestStepTestCases(t *testing.T) {
	withTest := func(t *testing.T, tc string) (*engine.Definition, *engine.Program) {
		t.Helper()
		src := strings.Replace(stepDef, `"routes": [{`, `"tests": [`+tc+`], "routes": [{`, 1)
		def, err := engine.ParseDefinition([]byte(src))
		require.NoError(t, err)
		p, err := engine.Compile(def, engine.Options{})
		require.NoError(t, err)
		return def, p
	}

	t.Run("recorded responses feed the steps", func(t *testing.T) {
		def, p := withTest(t, `{"name": "booked", "input": {"id": "SO-1"},
		  "responses": {"erp": {"status": 201, "body": {"documentNumber": "D-1"}}, "writeback": {"status": 204}},
		  "expect": {"routes": {"erp": {"orderId": "SO-1"}},
		    "steps": {"writeback": {"order": "SO-1", "documentNumber": "D-1", "location": null}, "notify": {"text": "booked D-1 (204)"}}}}`)
		res := engine.RunTests(p, def)
		require.True(t, res[0].Passed, "%v", res[0].Diffs)
	})

	t.Run("a wrong expectation is a diff", func(t *testing.T) {
		def, p := withTest(t, `{"name": "booked", "input": {"id": "SO-1"},
		  "responses": {"erp": {"status": 201, "body": {"documentNumber": "D-1"}}},
		  "expect": {"steps": {"writeback": {"order": "SO-1", "documentNumber": "D-2", "location": null}}}}`)
		res := engine.RunTests(p, def)
		require.False(t, res[0].Passed)
		require.Len(t, res[0].Diffs, 1)
		require.Equal(t, "writeback", res[0].Diffs[0].Route)
		require.Equal(t, "documentNumber", res[0].Diffs[0].Path)
	})

	t.Run("a step without the answer before it", func(t *testing.T) {
		def, p := withTest(t, `{"name": "booked", "input": {"id": "SO-1"},
		  "responses": {"erp": {"status": 201, "body": {"documentNumber": "D-1"}}},
		  "expect": {"steps": {"notify": {"text": "x"}}}}`)
		res := engine.RunTests(p, def)
		require.False(t, res[0].Passed)
		require.Contains(t, res[0].Diffs[0].Message, `record the response of the step before it under "responses"`)
	})

	t.Run("accept records the steps' outputs", func(t *testing.T) {
		def, p := withTest(t, `{"name": "booked", "input": {"id": "SO-1"},
		  "responses": {"erp": {"status": 201, "body": {"documentNumber": "D-1"}}},
		  "expect": {}}`)
		tc, err := engine.Accept(p, def.Tests[0])
		require.NoError(t, err)
		require.JSONEq(t, `{"order": "SO-1", "documentNumber": "D-1", "location": null}`, string(tc.Expect.Steps["writeback"]))
	})

	t.Run("unknown names in a test are diagnostics", func(t *testing.T) {
		src := strings.Replace(stepDef, `"routes": [{`, `"tests": [{"name": "x", "input": {}, "responses": {"erpp": {"status": 200}}, "expect": {"steps": {"writebak": null}}}], "routes": [{`, 1)
		def, err := engine.ParseDefinition([]byte(src))
		require.NoError(t, err)
		_, err = engine.Compile(def, engine.Options{})
		d := diagnostics(t, err)
		require.Len(t, d, 2)
		require.Equal(t, "/tests/0/expect/steps/writebak", d[0].Pointer)
		require.Contains(t, d[0].Message, `did you mean "writeback"?`)
		require.Equal(t, "/tests/0/responses/erpp", d[1].Pointer)
	})

	t.Run("the schema refuses a response without a status", func(t *testing.T) {
		src := strings.Replace(stepDef, `"routes": [{`, `"tests": [{"name": "x", "input": {}, "responses": {"erp": {"body": 1}}, "expect": {}}], "routes": [{`, 1)
		_, err := engine.ParseDefinition([]byte(src))
		var de *engine.DefinitionError
		require.True(t, errors.As(err, &de))
		require.Equal(t, "/tests/0/responses/erp", de.Diagnostics[0].Pointer)
	})
}

func TestRouteReply(t *testing.T) {
	withReply := func(rows string) string {
		return strings.Replace(stepDef, `"then": [{
      "name": "writeback"`, `"reply": `+rows+`, "then": [{
      "name": "writeback"`, 1)
	}
	compile := func(t *testing.T, src string) (*engine.Program, error) {
		t.Helper()
		def, err := engine.ParseDefinition([]byte(src))
		require.NoError(t, err)
		return engine.Compile(def, engine.Options{})
	}
	payload := []byte(`{"id": "SO-1"}`)

	t.Run("maps the named answers once they are all there", func(t *testing.T) {
		p, err := compile(t, withReply(`[{"target": "orderNumber", "expr": "steps.erp.response.body.documentNumber"}, {"target": "written", "expr": "steps.writeback.response.status == 204"}, {"target": "id", "expr": "source.id"}]`))
		require.NoError(t, err)
		require.Equal(t, []string{"erp", "writeback"}, p.ReplySteps("erp"))
		require.True(t, p.KeepsAnswer("writeback"), "the reply reads it")
		require.False(t, p.KeepsAnswer("audit"))
		_, err = p.RunReply(context.Background(), engine.Input{Payload: payload}, "erp", map[string]engine.Response{"erp": {Status: 201, Body: json.RawMessage(`{"documentNumber": "D-9"}`)}})
		require.ErrorIs(t, err, engine.ErrUnknownStep, "the write-back's answer is not there yet")
		rr, err := p.RunReply(context.Background(), engine.Input{Payload: payload}, "erp", map[string]engine.Response{
			"erp": {Status: 201, Body: json.RawMessage(`{"documentNumber": "D-9"}`)}, "writeback": {Status: 204}})
		require.NoError(t, err)
		require.Empty(t, rr.Errors)
		require.JSONEq(t, `{"orderNumber": "D-9", "written": true, "id": "SO-1"}`, string(rr.Output))
	})

	t.Run("a name outside the route's chain", func(t *testing.T) {
		_, err := compile(t, withReply(`[{"target": "n", "expr": "steps.erpp.response.status"}]`))
		d := diagnostics(t, err)
		require.Equal(t, "/routes/0/reply/0/expr", d[0].Pointer)
		require.Contains(t, d[0].Message, `"erpp" is not one; did you mean "erp"?`)
	})

	t.Run("a reply that waits for nothing", func(t *testing.T) {
		_, err := compile(t, withReply(`[{"target": "n", "expr": "source.id"}]`))
		d := diagnostics(t, err)
		require.Len(t, d, 1)
		require.Equal(t, "/routes/0/reply", d[0].Pointer)
		require.Contains(t, d[0].Message, "the reply names no answer to wait for")
	})

	t.Run("a route without a reply", func(t *testing.T) {
		_, err := stepProgram(t).RunReply(context.Background(), engine.Input{Payload: payload}, "erp", nil)
		require.ErrorIs(t, err, engine.ErrUnknownStep)
	})
}

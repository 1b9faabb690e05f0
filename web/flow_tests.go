package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

// flowTestSave saves the selected sample with the saved draft's current
// result as an expected test case: which rules fail, which routes match,
// exactly what each sends, and the first mapping error when a row fails.
func (s *Server) flowTestSave() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, base, err := s.flowForChange(c)
		if err != nil {
			return err
		}
		name := strings.TrimSpace(c.FormValue("name"))
		if name == "" {
			return &fault.Error{Code: fault.Invalid, Message: "give the test case a name"}
		}
		ctx := c.UserContext()
		d, err := mappings.DraftGet(ctx, s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		sample := formSample(c)
		if sample < 0 || sample >= len(d.Definition.Source.Samples) {
			return &fault.Error{Code: fault.Invalid, Message: "choose a sample first"}
		}
		for _, tc := range d.Definition.Tests {
			if tc.Name == name {
				return fault.Errorf(fault.Conflict, "a test case named “%s” already exists; choose another name", name)
			}
		}
		prog, err := compileSaved(d.Definition)
		if err != nil {
			return fault.Wrap(err, fault.Invalid, "save the draft without problems before saving a test case: "+err.Error())
		}
		now := s.deps.Now().UTC().Truncate(time.Second)
		payload := d.Definition.Source.Samples[sample].Payload
		vars := previewVars(d.Definition)
		res, err := prog.Run(ctx, engine.Input{Payload: payload, Now: now, Vars: vars})
		if err != nil {
			return fault.Wrap(err, fault.Invalid, "the sample cannot be mapped: "+err.Error())
		}
		tc := engine.TestCase{Name: name, Input: payload, Expect: engine.ExpectationOf(res)}
		if dependsOnClock(ctx, prog, tc, vars) {
			tc.Now = now.Format(time.RFC3339)
		}
		if len(vars) > 0 {
			tc.Vars = vars
		}
		def := *d.Definition
		def.Tests = append(append([]engine.TestCase(nil), def.Tests...), tc)
		if _, err := s.saveDraft(c, f, base, &def, "flow.test_add", name); err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Saved test case “%s”.", name))
		return c.Redirect(flowURL(f.Slug, sample)+"#tests", fiber.StatusSeeOther)
	}
}

// flowTestsRun runs every test case of the saved draft and shows each
// failure as a per-field diff.
func (s *Server) flowTestsRun() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, d, err := s.flowWithDraft(c)
		if err != nil {
			return err
		}
		st := designerState{flow: f, revision: d.Revision, def: d.Definition, sample: formSample(c)}
		prog, err := compileSaved(d.Definition)
		if err != nil {
			return s.renderDesigner(c, st, func(v *view.Designer) {
				v.Error = "The test cases cannot run while the draft has problems (listed above)."
			})
		}
		st.tests = engine.RunTests(prog, d.Definition)
		if st.tests == nil {
			st.tests = []engine.TestResult{}
		}
		passed := 0
		for _, r := range st.tests {
			if r.Passed {
				passed++
			}
		}
		return s.renderDesigner(c, st, func(v *view.Designer) {
			msg := fmt.Sprintf("%d of %d test cases passed.", passed, len(st.tests))
			if passed == len(st.tests) {
				v.Notice = msg
			} else {
				v.Error = msg
			}
		})
	}
}

// dependsOnClock tells whether the test case's expectation changes when
// the message's received time does. Only then does the case record the
// time it was saved at (which now() returns when it runs): a case that
// does not depend on the clock stays free of it, so the same case saved
// twice is the same definition.
func dependsOnClock(ctx context.Context, prog *engine.Program, tc engine.TestCase, vars map[string]string) bool {
	res, err := prog.Run(ctx, engine.Input{Payload: tc.Input, Vars: vars})
	if err != nil {
		return true
	}
	want, err1 := json.Marshal(tc.Expect)
	got, err2 := json.Marshal(engine.ExpectationOf(res))
	return err1 != nil || err2 != nil || !bytes.Equal(want, got)
}

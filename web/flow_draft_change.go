package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

// draftChange is one change to a copy of the draft's definition (its tests
// and samples are copies too). It returns the detail the audit entry
// records and the message the designer flashes.
type draftChange func(def *engine.Definition) (detail, flash string, err error)

// changeDraft applies change to the saved draft and saves the result as one
// audited revision, based on the revision the form was rendered with, then
// returns to the designer at anchor.
func (s *Server) changeDraft(c *fiber.Ctx, action, anchor string, sample func(def *engine.Definition) int, change draftChange) error {
	f, base, err := s.flowForChange(c)
	if err != nil {
		return err
	}
	d, err := mappings.DraftGet(c.UserContext(), s.deps.DB, f.ID)
	if err != nil {
		return err
	}
	def := *d.Definition
	def.Tests = append([]engine.TestCase(nil), def.Tests...)
	def.Source.Samples = append([]engine.Sample(nil), def.Source.Samples...)
	detail, msg, err := change(&def)
	if err != nil {
		return err
	}
	if _, err := s.saveDraft(c, f, base, &def, action, detail); err != nil {
		return err
	}
	s.flash(c, msg)
	return c.Redirect(flowURL(f.Slug, sample(&def))+"#"+anchor, fiber.StatusSeeOther)
}

// keepSample returns to the sample the form was sent from.
func keepSample(c *fiber.Ctx) func(*engine.Definition) int {
	n := formSample(c)
	return func(*engine.Definition) int { return n }
}

// formTest reads the index of the test case a form acts on.
func formTest(c *fiber.Ctx, def *engine.Definition) (int, error) {
	i, err := strconv.Atoi(c.FormValue("test"))
	if err != nil || i < 0 || i >= len(def.Tests) {
		return 0, &fault.Error{Code: fault.Invalid, Message: "that test case no longer exists; reload the designer",
			Fields: map[string]string{"test": "the position of a test case of the draft"}}
	}
	return i, nil
}

// testNameFree refuses a name another case (not skip) already has.
func testNameFree(def *engine.Definition, name string, skip int) error {
	if name == "" {
		return &fault.Error{Code: fault.Invalid, Message: "give the test case a name", Fields: map[string]string{"name": "required"}}
	}
	for i, tc := range def.Tests {
		if i != skip && tc.Name == name {
			return fault.Errorf(fault.Conflict, "a test case named “%s” already exists; choose another name", name)
		}
	}
	return nil
}

// testCaseJSON is a case as the designer's "edit as JSON" box shows it.
func testCaseJSON(tc engine.TestCase) string {
	b, err := json.MarshalIndent(tc, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// jsonProblem describes a JSON decoding error with its line and column.
func jsonProblem(text string, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var off int64 = -1
	switch {
	case errors.As(err, &syn):
		off = syn.Offset - 1 // the offending character, not the one after it
	case errors.As(err, &typ):
		off = typ.Offset
	}
	if off < 0 {
		return err.Error()
	}
	line, col := 1, 1
	for i, r := range text {
		if int64(i) >= off {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

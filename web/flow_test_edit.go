package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

// flowTestEdit replaces a test case with the JSON typed in the designer
// (name, input, now, vars, expect). JSON that does not decode into a case,
// a name another case has, or a draft changed meanwhile re-renders the
// designer with the text as typed and what went wrong, so nothing is lost.
func (s *Server) flowTestEdit() fiber.Handler {
	return func(c *fiber.Ctx) error {
		text := c.FormValue("json")
		err := s.changeDraft(c, "flow.test_edit", "tests", keepSample(c), func(def *engine.Definition) (string, string, error) {
			i, err := formTest(c, def)
			if err != nil {
				return "", "", err
			}
			tc, err := decodeTestCase(text)
			if err != nil {
				return "", "", err
			}
			if err := testNameFree(def, tc.Name, i); err != nil {
				return "", "", err
			}
			old := def.Tests[i].Name
			def.Tests[i] = tc
			return "edit “" + old + "”", fmt.Sprintf("Saved test case “%s”.", tc.Name), nil
		})
		code := fault.CodeOf(err)
		if err == nil || (code != fault.Invalid && code != fault.Conflict) {
			return err
		}
		msg := err.Error()
		if fe, ok := fault.As(err); ok {
			msg = fe.Message
		}
		f, base, ferr := s.flowForChange(c)
		if ferr != nil {
			return ferr
		}
		d, gerr := mappings.DraftGet(c.UserContext(), s.deps.DB, f.ID)
		if gerr != nil {
			return gerr
		}
		var stale *mappings.DraftConflictError
		if errors.As(err, &stale) {
			// Show the newest draft, so that saving the kept text again
			// applies it there.
			base = d.Revision
		}
		c.Status(statusOf[code])
		return s.renderDesigner(c, designerState{flow: f, revision: base, def: d.Definition, sample: formSample(c)}, func(v *view.Designer) {
			v.Error = "The test case is not saved: " + msg
			for k := range v.Tests {
				if strconv.Itoa(v.Tests[k].Index) == c.FormValue("test") {
					v.Tests[k].JSON, v.Tests[k].EditError = text, msg
				}
			}
		})
	}
}

// testCaseError is typed test case JSON that is not a test case.
type testCaseError struct{ msg string }

func (e *testCaseError) Error() string { return e.msg }

// Unwrap makes it a fault.Invalid for the one error mapping.
func (e *testCaseError) Unwrap() error { return &fault.Error{Code: fault.Invalid, Message: e.msg} }

func decodeTestCase(text string) (engine.TestCase, error) {
	var tc engine.TestCase
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tc); err != nil {
		return tc, &testCaseError{msg: jsonProblem(text, err)}
	}
	if dec.More() {
		return tc, &testCaseError{msg: "there is more after the test case's closing brace"}
	}
	tc.Name = strings.TrimSpace(tc.Name)
	switch {
	case tc.Name == "":
		return tc, &testCaseError{msg: `the case needs a "name"`}
	case len(bytes.TrimSpace(tc.Input)) == 0:
		return tc, &testCaseError{msg: `the case needs an "input": the payload to map`}
	}
	if tc.Now != "" {
		if _, err := time.Parse(time.RFC3339Nano, tc.Now); err != nil {
			return tc, &testCaseError{msg: fmt.Sprintf(`"now" %q is not an RFC 3339 time such as 2026-03-14T07:05:02Z`, tc.Now)}
		}
	}
	return tc, nil
}

package web

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
)

// flowTestAccept replaces the expectations of one test case (form field
// test) or of every failing case (all=1) with what the saved draft makes of
// its input now — route outputs, failing rules and mapping error — as one
// draft revision.
func (s *Server) flowTestAccept() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.changeDraft(c, "flow.test_accept", "tests", keepSample(c), func(def *engine.Definition) (string, string, error) {
			prog, err := compileSaved(def)
			if err != nil {
				return "", "", fault.Wrap(err, fault.Invalid, "the draft has problems; fix them before accepting its results: "+err.Error())
			}
			var which []int
			if c.FormValue("all") == "1" {
				for i, r := range engine.RunTests(prog, def) {
					if !r.Passed && r.Error == "" {
						which = append(which, i)
					}
				}
				if len(which) == 0 {
					return "", "", &fault.Error{Code: fault.Invalid, Message: "no test case fails with a difference; nothing to accept"}
				}
			} else {
				i, err := formTest(c, def)
				if err != nil {
					return "", "", err
				}
				which = []int{i}
			}
			names := make([]string, 0, len(which))
			for _, i := range which {
				tc, err := engine.Accept(prog, def.Tests[i])
				if err != nil {
					return "", "", fault.Wrap(err, fault.Invalid, fmt.Sprintf("test case “%s” cannot run: %v", def.Tests[i].Name, err))
				}
				def.Tests[i] = tc
				names = append(names, "“"+tc.Name+"”")
			}
			list := strings.Join(names, ", ")
			return "accept " + list, fmt.Sprintf("Accepted the actual result as expected for %s.", list), nil
		})
	}
}

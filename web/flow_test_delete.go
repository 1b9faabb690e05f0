package web

import (
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
)

// flowTestDelete removes a test case from the draft. The previous draft
// revision and every published version keep it.
func (s *Server) flowTestDelete() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.changeDraft(c, "flow.test_delete", "tests", keepSample(c), func(def *engine.Definition) (string, string, error) {
			i, err := formTest(c, def)
			if err != nil {
				return "", "", err
			}
			name := def.Tests[i].Name
			def.Tests = slices.Delete(def.Tests, i, i+1)
			return "delete “" + name + "”", fmt.Sprintf("Deleted test case “%s”.", name), nil
		})
	}
}

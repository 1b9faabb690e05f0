package web

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
)

// flowTestRename renames a test case; names stay unique.
func (s *Server) flowTestRename() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.changeDraft(c, "flow.test_rename", "tests", keepSample(c), func(def *engine.Definition) (string, string, error) {
			i, err := formTest(c, def)
			if err != nil {
				return "", "", err
			}
			name := strings.TrimSpace(c.FormValue("name"))
			if err := testNameFree(def, name, i); err != nil {
				return "", "", err
			}
			old := def.Tests[i].Name
			def.Tests[i].Name = name
			return fmt.Sprintf("rename “%s” to “%s”", old, name), fmt.Sprintf("Renamed test case “%s” to “%s”.", old, name), nil
		})
	}
}

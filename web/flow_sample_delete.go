package web

import (
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
)

// flowSampleDelete removes a sample from the draft and returns to the
// first one. Test cases keep their own copy of their input.
func (s *Server) flowSampleDelete() fiber.Handler {
	return func(c *fiber.Ctx) error {
		first := func(*engine.Definition) int { return 0 }
		return s.changeDraft(c, "flow.sample_delete", "samples-h", first, func(def *engine.Definition) (string, string, error) {
			i, err := formSampleOf(c, def)
			if err != nil {
				return "", "", err
			}
			name := def.Source.Samples[i].Name
			def.Source.Samples = slices.Delete(def.Source.Samples, i, i+1)
			return "delete “" + name + "”", fmt.Sprintf("Deleted sample “%s”.", name), nil
		})
	}
}

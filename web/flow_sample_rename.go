package web

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
)

// formSampleOf reads the index of the sample a form acts on.
func formSampleOf(c *fiber.Ctx, def *engine.Definition) (int, error) {
	i := formSample(c)
	if c.FormValue("sample") == "" || i < 0 || i >= len(def.Source.Samples) {
		return 0, &fault.Error{Code: fault.Invalid, Message: "that sample no longer exists; reload the designer",
			Fields: map[string]string{"sample": "the position of a sample of the draft"}}
	}
	return i, nil
}

// sampleNameFree refuses a name another sample (not skip) already has.
func sampleNameFree(def *engine.Definition, name string, skip int) error {
	if name == "" {
		return &fault.Error{Code: fault.Invalid, Message: "give the sample a name", Fields: map[string]string{"name": "required"}}
	}
	for i, s := range def.Source.Samples {
		if i != skip && s.Name == name {
			return fault.Errorf(fault.Conflict, "a sample named “%s” already exists; choose another name", name)
		}
	}
	return nil
}

// flowSampleRename renames a sample; names stay unique.
func (s *Server) flowSampleRename() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.changeDraft(c, "flow.sample_rename", "samples-h", keepSample(c), func(def *engine.Definition) (string, string, error) {
			i, err := formSampleOf(c, def)
			if err != nil {
				return "", "", err
			}
			name := strings.TrimSpace(c.FormValue("name"))
			if err := sampleNameFree(def, name, i); err != nil {
				return "", "", err
			}
			old := def.Source.Samples[i].Name
			def.Source.Samples[i].Name = name
			return fmt.Sprintf("rename “%s” to “%s”", old, name), fmt.Sprintf("Renamed sample “%s” to “%s”.", old, name), nil
		})
	}
}

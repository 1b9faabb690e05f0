package web

import (
	"fmt"
	"io"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

// flowImport replaces the draft with an uploaded definition file. The file
// must pass the format's JSON Schema; expression problems are kept as
// draft problems to fix in the designer.
func (s *Server) flowImport() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, base, err := s.flowForChange(c)
		if err != nil {
			return err
		}
		fh, err := c.FormFile("file")
		if err != nil {
			return &fault.Error{Code: fault.Invalid, Message: "choose a definition file (.json) to import"}
		}
		if fh.Size > mappings.MaxDefinitionBytes {
			return fault.Errorf(fault.Invalid, "the file is %d KB; a definition may be at most %d KB", fh.Size/1024, mappings.MaxDefinitionBytes/1024)
		}
		file, err := fh.Open()
		if err != nil {
			return err
		}
		defer file.Close()
		raw, err := io.ReadAll(io.LimitReader(file, mappings.MaxDefinitionBytes+1))
		if err != nil {
			return err
		}
		def, err := engine.ParseDefinition(raw)
		if err != nil {
			return fault.Wrap(err, fault.Invalid, "the file is not a valid flow definition: "+err.Error())
		}
		if _, err := s.saveDraft(c, f, base, def, "flow.import", fh.Filename); err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Imported %s as the draft.", fh.Filename))
		return c.Redirect("/flows/"+f.Slug, fiber.StatusSeeOther)
	}
}

package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

// maxSampleBytes caps one sample payload.
const maxSampleBytes = 512 << 10

// flowSampleAdd adds a named sample payload, pasted or uploaded, to the
// draft and selects it.
func (s *Server) flowSampleAdd() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, base, err := s.flowForChange(c)
		if err != nil {
			return err
		}
		name := strings.TrimSpace(c.FormValue("name"))
		if name == "" {
			return &fault.Error{Code: fault.Invalid, Message: "give the sample a name, e.g. “order with two lines”"}
		}
		payload := []byte(c.FormValue("payload"))
		if fh, ferr := c.FormFile("file"); ferr == nil && fh.Size > 0 {
			if fh.Size > maxSampleBytes {
				return fault.Errorf(fault.Invalid, "the file is %d KB; a sample may be at most %d KB", fh.Size/1024, maxSampleBytes/1024)
			}
			file, err := fh.Open()
			if err != nil {
				return err
			}
			defer file.Close()
			if payload, err = io.ReadAll(io.LimitReader(file, maxSampleBytes+1)); err != nil {
				return err
			}
		}
		payload = bytes.TrimSpace(payload)
		if len(payload) == 0 {
			return &fault.Error{Code: fault.Invalid, Message: "paste the sample's JSON or choose a .json file"}
		}
		if len(payload) > maxSampleBytes {
			return fault.Errorf(fault.Invalid, "the sample is larger than %d KB", maxSampleBytes/1024)
		}
		if !json.Valid(payload) {
			var v any
			err := json.Unmarshal(payload, &v)
			return fault.Errorf(fault.Invalid, "the sample is not valid JSON: %v", err)
		}
		d, err := mappings.DraftGet(c.UserContext(), s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		def := *d.Definition
		def.Source.Samples = append(append([]engine.Sample(nil), def.Source.Samples...), engine.Sample{Name: name, Payload: payload})
		if _, err := s.saveDraft(c, f, base, &def, "flow.sample_add", name); err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Added sample “%s”.", name))
		return c.Redirect(flowURL(f.Slug, len(def.Source.Samples)-1), fiber.StatusSeeOther)
	}
}

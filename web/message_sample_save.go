package web

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
)

// messageSampleSave adds a message's payload as a named sample to the
// draft of the message's flow, from the message or exception page. A sample
// with the same name is refused unless replace=1 is sent, which replaces
// it in place. The draft change is a new, audited revision.
func (s *Server) messageSampleSave() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := store.ParseMessageID(c.Params("id"))
		if err != nil {
			return err
		}
		name := strings.TrimSpace(c.FormValue("name"))
		if name == "" {
			return &fault.Error{Code: fault.Invalid, Message: "give the sample a name, e.g. “order that failed the tax row”", Fields: map[string]string{"name": "required"}}
		}
		ctx := c.UserContext()
		mv, err := store.MessageGet(ctx, s.deps.DB, id)
		if err != nil {
			return err
		}
		payload := bytes.TrimSpace(mv.Message.Payload)
		if len(payload) > maxSampleBytes {
			return fault.Errorf(fault.Invalid, "the payload is %d KB; a sample may be at most %d KB", len(payload)/1024, maxSampleBytes/1024)
		}
		f, err := mappings.FlowBySlug(ctx, s.deps.DB, mv.Message.FlowSlug)
		if err != nil {
			return err
		}
		d, err := mappings.DraftGet(ctx, s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		def := *d.Definition
		def.Source.Samples = append([]engine.Sample(nil), def.Source.Samples...)
		sample := engine.Sample{Name: name, Payload: append([]byte(nil), payload...)}
		at := -1
		for i, sm := range def.Source.Samples {
			if sm.Name == name {
				at = i
			}
		}
		verb := "Added"
		switch {
		case at >= 0 && c.FormValue("replace") != "1":
			return fault.Errorf(fault.Conflict, "flow %s's draft already has a sample named “%s”; choose another name, or tick “replace a sample with the same name”", f.Slug, name)
		case at >= 0:
			def.Source.Samples[at], verb = sample, "Replaced"
		default:
			def.Source.Samples = append(def.Source.Samples, sample)
			at = len(def.Source.Samples) - 1
		}
		if _, err := s.saveDraft(c, f, d.Revision, &def, "flow.sample_from_message", fmt.Sprintf("message %s as “%s”", id, name)); err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("%s sample “%s” from message %s in the draft.", verb, name, id))
		return c.Redirect(flowURL(f.Slug, at)+"#samples-h", fiber.StatusSeeOther)
	}
}

package web

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/mappings"
)

// inboxLookupRow adds the row a mapping exception missed to the lookup
// table in the flow's draft (analysts and admins); publishing and
// deploying the draft then lets the group be replayed.
func (s *Server) inboxLookupRow() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		it, err := inbox.ExceptionGet(ctx, s.deps.DB, id)
		if err != nil {
			return err
		}
		uv, ok := inbox.UnmappedLookup(it.Exception)
		if !ok {
			return fault.Errorf(fault.Conflict, "exception %d is not a missing lookup value", id)
		}
		value := strings.TrimSpace(c.FormValue("value"))
		if value == "" {
			return &fault.Error{Code: fault.Invalid, Message: "give the value for “" + uv.Key + "”", Fields: map[string]string{"value": "required"}}
		}
		raw, err := textValue(value)
		if err != nil {
			return &fault.Error{Code: fault.Invalid, Message: err.Error(), Fields: map[string]string{"value": "invalid"}}
		}
		f, err := mappings.FlowByID(ctx, s.deps.DB, it.FlowID)
		if err != nil {
			return err
		}
		d, err := mappings.DraftGet(ctx, s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		def := *d.Definition
		def.Lookups = map[string]engine.Lookup{}
		for k, v := range d.Definition.Lookups {
			def.Lookups[k] = v
		}
		lk, ok := def.Lookups[uv.Table]
		if !ok {
			return fault.Errorf(fault.Conflict, "the draft of %s has no lookup table %s any more", f.Slug, uv.Table)
		}
		entries := make(map[string]json.RawMessage, len(lk.Entries)+1)
		for k, v := range lk.Entries {
			entries[k] = v
		}
		if _, dup := entries[uv.Key]; dup {
			return fault.Errorf(fault.Conflict, "the draft already has a row for “%s” in %s; publish and deploy it, then replay", uv.Key, uv.Table)
		}
		entries[uv.Key] = raw
		lk.Entries = entries
		def.Lookups[uv.Table] = lk
		if _, err := s.saveDraft(c, f, d.Revision, &def, "flow.lookup_row_add", fmt.Sprintf("%s[%s] from exception %d", uv.Table, uv.Key, id)); err != nil {
			return err
		}
		return s.backToException(c, id, fmt.Sprintf("Added %s → %s to table %s in the draft of %s. Publish and deploy it, then replay the group on the deployed version.", uv.Key, value, uv.Table, f.Slug))
	}
}

package web

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

// flowPublish makes the saved draft the next version. A refusal (problems,
// failing test cases, a stale revision, nothing changed) re-renders the
// designer saying exactly why.
func (s *Server) flowPublish() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, base, err := s.flowForChange(c)
		if err != nil {
			return err
		}
		ctx := c.UserContext()
		v, err := s.publish(c, f, base, c.FormValue("note"))
		var refused *mappings.PublishRefusedError
		fe, isFault := fault.As(err)
		if errors.As(err, &refused) || isFault && fe.Code == fault.Conflict {
			d, derr := mappings.DraftGet(ctx, s.deps.DB, f.ID)
			if derr != nil {
				return derr
			}
			st := designerState{flow: f, revision: d.Revision, def: d.Definition}
			if refused != nil {
				st.tests = refused.FailedTests
				c.Status(fiber.StatusUnprocessableEntity)
			} else {
				c.Status(fiber.StatusConflict)
			}
			msg := err.Error()
			if isFault {
				msg = fe.Message
			}
			return s.renderDesigner(c, st, func(d *view.Designer) { d.Error = capitalize(msg) + "." })
		}
		if err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Published version %d.", v.Number)+publishWarnings(mappings.Warnings(v.Definition)))
		return c.Redirect("/flows/"+f.Slug, fiber.StatusSeeOther)
	}
}

// publish publishes and audits in one transaction.
func (s *Server) publish(c *fiber.Ctx, f mappings.Flow, base int, note string) (mappings.Version, error) {
	ctx := c.UserContext()
	var v mappings.Version
	err := txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
		var err error
		if v, err = mappings.Publish(ctx, tx, f.ID, base, note, editorOf(c)); err != nil {
			return err
		}
		return account.Audit(ctx, tx, actorOf(c), "flow.publish", "flow", f.Slug, nil,
			map[string]any{"version": v.Number, "checksum": v.Checksum, "note": v.Note})
	})
	return v, err
}

// publishWarnings sums up what publishing went ahead despite: required
// target fields no row maps, named by route (at most five).
func publishWarnings(ws []engine.Diagnostic) string {
	if len(ws) == 0 {
		return ""
	}
	var names []string
	for i, w := range ws {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(ws)-5))
			break
		}
		names = append(names, w.Route+": "+w.Target)
	}
	return fmt.Sprintf(" Warning: %d required target field%s not mapped (%s).", len(ws), plural(len(ws)), strings.Join(names, ", "))
}

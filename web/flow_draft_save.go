package web

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

// flowDraftSave is the designer form without JavaScript: it applies the
// page's unsaved operations, the typed-in fields and, optionally, one
// operation (op = verb:/pointer, or undo, redo; applyDraftOp in
// draft_ops.go lists them), then saves the draft against the revision the
// form was rendered with. A field the draft cannot take or a refused
// operation re-renders the designer with every edit as typed, unsaved. A
// stale revision re-renders the designer with the
// analyst's edits intact and the other person's changes listed.
func (s *Server) flowDraftSave() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, base, err := s.flowForChange(c)
		if err != nil {
			return err
		}
		sample := formSample(c)
		ctx := c.UserContext()
		stored, err := mappings.DraftGet(ctx, s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		st, err := working(c, stored.Definition)
		if err != nil {
			return err
		}
		if st.refused != nil {
			// Nothing is saved and nothing typed is lost: the designer
			// comes back with every field as typed and the problem named.
			c.Status(fiber.StatusUnprocessableEntity)
			return s.renderDesigner(c, designerState{flow: f, revision: base, def: st.def, sample: sample, kept: st.kept}, func(d *view.Designer) {
				setDocument(d, st)
				d.Error = "Not saved: " + st.refused.Message
			})
		}
		before := st
		st.op, err = buttonOp(c, st.def)
		if err == nil {
			err = st.apply()
		}
		if fe, ok := fault.As(err); ok && fe.Code == fault.Invalid {
			// A refused operation keeps the typed edits on the page, unsaved.
			c.Status(fiber.StatusUnprocessableEntity)
			return s.renderDesigner(c, designerState{flow: f, revision: base, def: before.def, sample: sample}, func(d *view.Designer) {
				setDocument(d, before)
				d.Error = "Not saved: " + fe.Message
			})
		}
		if err != nil {
			return err
		}
		working, op := st.def, st.describe()
		saved, err := s.saveDraft(c, f, base, working, "flow.draft_save", op)
		var conflict *mappings.DraftConflictError
		if errors.As(err, &conflict) {
			c.Status(fiber.StatusConflict)
			return s.renderDesigner(c, designerState{flow: f, revision: base, def: working, sample: sample}, func(d *view.Designer) {
				setDocument(d, st)
				d.Conflict = conflictView(conflict)
			})
		}
		if err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Saved draft revision %d.", saved.Revision))
		return c.Redirect(flowURL(f.Slug, sample), fiber.StatusSeeOther)
	}
}

// saveDraft saves and audits in one transaction.
func (s *Server) saveDraft(c *fiber.Ctx, f mappings.Flow, base int, def *engine.Definition, action, detail string) (mappings.Draft, error) {
	ctx := c.UserContext()
	var saved mappings.Draft
	err := txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
		var err error
		if saved, err = mappings.DraftSave(ctx, tx, f.ID, base, def, editorOf(c)); err != nil {
			return err
		}
		sum, _ := saved.Definition.Checksum()
		return account.Audit(ctx, tx, actorOf(c), action, "flow", f.Slug,
			map[string]any{"revision": base},
			map[string]any{"revision": saved.Revision, "checksum": sum, "change": detail})
	})
	return saved, err
}

func conflictView(e *mappings.DraftConflictError) *view.Conflict {
	cv := &view.Conflict{By: e.Current.UpdatedByEmail, At: e.Current.UpdatedAt.UTC().Format("15:04:05 UTC"), Revision: e.Current.Revision}
	cv.Diff = diffView(e.Differences)
	cv.Diff.OldLabel, cv.Diff.NewLabel = "Theirs", "Yours"
	cv.Same = e.Differences.Empty()
	return cv
}

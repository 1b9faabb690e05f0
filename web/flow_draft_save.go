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

// flowDraftSave applies the designer form's edits and, optionally, one
// structural change (op = verb:/pointer, see applyOp), then saves the draft against the revision the form was
// rendered with. A stale revision re-renders the designer with the
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
		working, kept, refused, err := applyEditsKeeping(stored.Definition, formEdits(c))
		if err != nil {
			return err
		}
		if refused != nil {
			// Nothing is saved and nothing typed is lost: the designer
			// comes back with every field as typed and the problem named.
			c.Status(fiber.StatusUnprocessableEntity)
			return s.renderDesigner(c, designerState{flow: f, revision: base, def: working, sample: sample, kept: kept}, func(d *view.Designer) {
				d.Error = "Not saved: " + refused.Message
			})
		}
		op := c.FormValue("op", "save")
		changed, err := applyOp(working, op)
		if fe, ok := fault.As(err); ok && fe.Code == fault.Invalid {
			// A refused action keeps the typed edits on the page, unsaved.
			c.Status(fiber.StatusUnprocessableEntity)
			return s.renderDesigner(c, designerState{flow: f, revision: base, def: working, sample: sample}, func(d *view.Designer) {
				d.Error = "Not saved: " + fe.Message
			})
		}
		if err != nil {
			return err
		}
		working = changed
		saved, err := s.saveDraft(c, f, base, working, "flow.draft_save", op)
		var conflict *mappings.DraftConflictError
		if errors.As(err, &conflict) {
			c.Status(fiber.StatusConflict)
			return s.renderDesigner(c, designerState{flow: f, revision: base, def: working, sample: sample}, func(d *view.Designer) {
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
	for _, ch := range e.Differences.Changes {
		cv.Changes = append(cv.Changes, describeChange(ch))
	}
	if len(cv.Changes) == 0 {
		cv.Changes = []string{"their draft has the same content as yours"}
	}
	return cv
}

func describeChange(ch mappings.Change) string { return ch.String() }

// applyOp performs one structural change named by the pressed button:
// add-row, add-constant, add-object, add-foreach, add-array (a row of that
// kind at a position in a mapping or child rows), add-rule, add-route,
// duplicate-route, add-target, infer-schema (the source schema from the
// samples), remove, up, down.
func applyOp(def *engine.Definition, op string) (*engine.Definition, error) {
	verb, ptr, _ := strings.Cut(op, ":")
	switch verb {
	case "save", "":
		return def, nil
	case "add-row":
		return mappings.AddRow(def, ptr, mappings.RowValue)
	case "add-constant":
		return mappings.AddRow(def, ptr, mappings.RowConstant)
	case "add-object":
		return mappings.AddRow(def, ptr, mappings.RowObject)
	case "add-foreach":
		return mappings.AddRow(def, ptr, mappings.RowForEach)
	case "add-array":
		return mappings.AddRow(def, ptr, mappings.RowArray)
	case "add-route":
		return mappings.AddRoute(def, ptr)
	case "duplicate-route":
		return mappings.DuplicateRoute(def, ptr)
	case "add-target":
		return mappings.AddTarget(def, ptr)
	case "infer-schema":
		return mappings.WithInferredSchema(def)
	case "add-rule":
		n := len(def.Validation) + 1
		return mappings.InsertAt(def, ptr, engine.Rule{Name: fmt.Sprintf("rule-%d", n), Rule: "true", Message: "describe what is wrong and how to fix it"})
	case "remove":
		return mappings.RemoveAt(def, ptr)
	case "up":
		return mappings.Move(def, ptr, -1)
	case "down":
		return mappings.Move(def, ptr, +1)
	}
	return nil, &fault.Error{Code: fault.Invalid, Message: "unknown designer action “" + verb + "”"}
}

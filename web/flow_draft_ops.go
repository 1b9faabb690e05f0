package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// draftStep is the page's document after one request: the working
// definition, the unsaved operations and the undo/redo history.
type draftStep struct {
	def     *engine.Definition
	pending []draftOp
	history draftHistory
	op      draftOp // what the button asked for; Op "save" saves
	// kept are typed-in fields the draft could not take (JSON that does
	// not parse, a word for a number), as typed; refused is the first
	// one's reason (see applyEditsKeeping).
	kept    map[string]keptField
	refused *fault.Error
}

// working rebuilds the analyst's working definition from the saved draft:
// the page's unsaved operations, then its typed-in fields (named by the
// pointers of the last render, which already reflects those operations).
func working(c *fiber.Ctx, stored *engine.Definition) (draftStep, error) {
	st := draftStep{history: parseHistory(c.FormValue("history"))}
	var err error
	if st.pending, err = parsePending(c.FormValue("ops")); err != nil {
		return st, err
	}
	if st.def, err = replayOps(stored, st.pending); err != nil {
		return st, err
	}
	st.def, st.kept, st.refused, err = applyEditsKeeping(st.def, formEdits(c))
	return st, err
}

// apply performs the step's operation (or pops the undo or redo stack)
// and records it as pending and in the history.
func (st *draftStep) apply() error {
	var entry historyEntry
	switch st.op.Op {
	case "save":
		return nil
	case "undo", "redo":
		stack := &st.history.Undo
		if st.op.Op == "redo" {
			stack = &st.history.Redo
		}
		if len(*stack) == 0 {
			return &fault.Error{Code: fault.Invalid, Message: "nothing to " + st.op.Op}
		}
		e := (*stack)[len(*stack)-1]
		*stack = (*stack)[:len(*stack)-1]
		do := e.Undo
		if st.op.Op == "redo" {
			do = e.Redo
		}
		def, done, inverse, err := applyDraftOp(st.def, do)
		if err != nil {
			return err
		}
		st.def, st.pending = def, append(st.pending, done)
		if st.op.Op == "undo" {
			st.history.Redo = append(st.history.Redo, historyEntry{Label: e.Label, Undo: done, Redo: inverse})
		} else {
			st.history.Undo = append(st.history.Undo, historyEntry{Label: e.Label, Undo: inverse, Redo: done})
		}
		return nil
	default:
		def, done, inverse, err := applyDraftOp(st.def, st.op)
		if err != nil {
			return err
		}
		if done.Op == "" {
			return nil // nothing changed (a schema inferred as it already was)
		}
		st.def, st.pending = def, append(st.pending, done)
		entry = historyEntry{Label: opLabel(st.op) + " " + st.op.Path, Undo: inverse, Redo: done}
		st.history.Undo = append(st.history.Undo, entry)
		if len(st.history.Undo) > maxHistory {
			st.history.Undo = st.history.Undo[len(st.history.Undo)-maxHistory:]
		}
		st.history.Redo = nil
		return nil
	}
}

// describe lists the step's operations for the audit log.
func (st *draftStep) describe() string {
	if len(st.pending) == 0 {
		return "save"
	}
	var parts []string
	for _, op := range st.pending {
		parts = append(parts, opSummaries(op)...)
	}
	return "ops: " + strings.Join(parts, ", ")
}

// flowDraftOps applies one operation to the page's working draft and
// answers the designer form, morphed in place by htmx, with the problems
// and diagram out of band. Op "save" (also Enter, Ctrl/Cmd+S and the
// page's save after a few quiet seconds) writes the pending operations and
// typed-in fields as one draft revision against the revision the page was
// opened at; a newer revision by anyone is a conflict (409) and nothing is
// overwritten. A refused operation (422) answers the form as it was, with
// the reason.
func (s *Server) flowDraftOps() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, base, err := s.flowForChange(c)
		if err != nil {
			return err
		}
		ctx := c.UserContext()
		stored, err := mappings.DraftGet(ctx, s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		st, err := working(c, stored.Definition)
		var fe *fault.Error
		if errors.As(err, &fe) && fe.Code == fault.Invalid && stored.Revision != base {
			// The page's operations do not even apply to the other
			// person's draft: show the conflict with theirs.
			c.Status(fiber.StatusConflict)
			cv := conflictView(&mappings.DraftConflictError{Current: stored})
			cv.Same, cv.Stale = false, "your unsaved changes no longer apply to their draft ("+fe.Message+"); reload their version and make them again"
			return s.renderDraftForm(c, designerState{flow: f, revision: base, def: stored.Definition, sample: formSample(c)}, draftStep{},
				func(d *view.Designer) { d.Conflict = cv })
		}
		if errors.As(err, &fe) && fe.Code == fault.Invalid {
			st.refused = fe
		} else if err != nil {
			return err
		}
		if st.refused != nil {
			// A field that does not parse (an SLA of "sixty", a constant
			// that is not JSON): say so and leave the form, with everything
			// typed in it, as it is.
			c.Status(fiber.StatusUnprocessableEntity)
			c.Set("HX-Reswap", "none")
			return s.render(c, view.DraftRefusal("Not saved: "+st.refused.Message))
		}
		ds := designerState{flow: f, revision: base, def: st.def, sample: formSample(c), picks: formPicks(c)}
		decorate := func(d *view.Designer) {}
		if stored.Revision != base {
			// The page's operations were replayed on the other person's
			// draft: shown as this analyst's working copy beside the
			// conflict, never saved over it.
			c.Status(fiber.StatusConflict)
			conflict := &mappings.DraftConflictError{Current: stored, Differences: mappings.Diff(stored.Definition, st.def)}
			return s.renderDraftForm(c, ds, st, func(d *view.Designer) { d.Conflict = conflictView(conflict) })
		}
		before := st
		st.op, err = buttonOp(c, st.def)
		if err == nil {
			err = st.apply()
		}
		if err != nil {
			if errors.As(err, &fe) && fe.Code == fault.Invalid {
				c.Status(fiber.StatusUnprocessableEntity)
				return s.renderDraftForm(c, ds, before, func(d *view.Designer) { d.DocError = "Not done: " + fe.Message })
			}
			return err
		}
		ds.def = st.def
		if st.op.Op == "map" || st.op.Op == "map-each" {
			delete(ds.picks, st.op.Path) // made: the next pair starts afresh
		}
		if st.op.Op == "save" {
			saved, err := s.saveDraft(c, f, base, st.def, "flow.draft_save", st.describe())
			var conflict *mappings.DraftConflictError
			if errors.As(err, &conflict) {
				c.Status(fiber.StatusConflict)
				return s.renderDraftForm(c, ds, st, func(d *view.Designer) { d.Conflict = conflictView(conflict) })
			}
			if err != nil {
				return err
			}
			f.DraftUpdatedBy, f.DraftUpdatedAt = saved.UpdatedByEmail, saved.UpdatedAt
			ds.revision, ds.def, st.pending = saved.Revision, saved.Definition, nil
			decorate = func(d *view.Designer) { d.DocNotice = fmt.Sprintf("Saved draft revision %d.", saved.Revision) }
		}
		return s.renderDraftForm(c, ds, st, decorate)
	}
}

// renderDraftForm answers the designer form of the working document.
func (s *Server) renderDraftForm(c *fiber.Ctx, ds designerState, st draftStep, decorate func(*view.Designer)) error {
	ds.canEdit = canEditFlows(c) && engine.CheckLimits(ds.def) == nil
	ds.now = s.deps.Now()
	ds.kinds = s.targetKinds()
	formats, err := release.FlowTargetFormats(c.UserContext(), s.deps.DB, ds.flow.ID)
	if err != nil {
		return err
	}
	ds.formats = formats
	d := buildDesigner(c.UserContext(), ds)
	setDocument(&d, st)
	decorate(&d)
	return s.render(c, view.DraftFormFragment(csrfOf(c), d))
}

// setDocument puts the unsaved operations and the history in the view.
func setDocument(d *view.Designer, st draftStep) {
	d.PendingOps = encodeJSON(st.pending)
	d.History = encodeJSON(st.history)
	d.Dirty = len(st.pending) > 0
	if n := len(st.history.Undo); n > 0 {
		d.UndoLabel = "Undo " + st.history.Undo[n-1].Label
	}
	if n := len(st.history.Redo); n > 0 {
		d.RedoLabel = "Redo " + st.history.Redo[n-1].Label
	}
}

// opSummaries are "verb /pointer" for an operation, one per operation of a
// batch.
func opSummaries(op draftOp) []string {
	if op.Op != "batch" {
		return []string{op.Op + " " + op.Path}
	}
	var ops []draftOp
	_ = json.Unmarshal(op.Value, &ops)
	var out []string
	for _, o := range ops {
		out = append(out, opSummaries(o)...)
	}
	return out
}

package mappings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
)

// Draft is a flow's one editable definition. It may be incomplete or fail to
// compile — work in progress is saved as it is — but only a clean draft can
// be published.
type Draft struct {
	FlowID     int64
	Definition *engine.Definition
	// Revision is the optimistic-concurrency token: pass it back to
	// DraftSave and Publish.
	Revision       int
	UpdatedByEmail string
	UpdatedAt      time.Time
}

// DraftGet returns the flow's draft.
func DraftGet(ctx context.Context, db txn.DBTX, flowID int64) (Draft, error) {
	d := Draft{FlowID: flowID}
	err := db.QueryRow(ctx, draftGetSelect, flowID).
		Scan(&d.Definition, &d.Revision, &d.UpdatedByEmail, &d.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Draft{}, fault.Errorf(fault.NotFound, "no flow with id %d", flowID)
	}
	if err != nil {
		return Draft{}, fmt.Errorf("draft of flow %d: %w", flowID, err)
	}
	return d, nil
}

// DraftConflictError refuses a save based on an old revision: someone else
// saved in between. It carries their draft and what differs from the one
// being saved, so the editor can show it and offer to reload — nothing is
// overwritten.
type DraftConflictError struct {
	Current Draft
	// Differences between the stored draft and the one that was refused.
	Differences DefinitionDiff
}

func (e *DraftConflictError) Error() string {
	return fmt.Sprintf("the draft was changed by %s at %s (now revision %d) after you opened it; reload to see their changes, then make yours again",
		e.Current.UpdatedByEmail, e.Current.UpdatedAt.UTC().Format("15:04:05 UTC"), e.Current.Revision)
}

// Unwrap makes a conflict a fault.Conflict for the web layer's one mapping.
func (e *DraftConflictError) Unwrap() error {
	return &fault.Error{Code: fault.Conflict, Message: e.Error()}
}

// MaxDefinitionBytes caps a draft: engine.MaxDefinitionBytes, far above
// any real flow, far below what could hurt.
const MaxDefinitionBytes = engine.MaxDefinitionBytes

// DraftSave replaces the draft when baseRevision is still current and returns
// the new revision. A definition over MaxDefinitionBytes or the limits of
// engine.CheckLimits is refused (fault.Invalid wrapping the
// *engine.DefinitionError). A stale baseRevision returns *DraftConflictError. The
// definition's name is kept equal to the flow's slug.
func DraftSave(ctx context.Context, db txn.DBTX, flowID int64, baseRevision int, def *engine.Definition, ed Editor) (Draft, error) {
	if def == nil {
		return Draft{}, &fault.Error{Code: fault.Invalid, Message: "the draft is empty"}
	}
	var slug string
	if err := db.QueryRow(ctx, flowSlugSelect, flowID).Scan(&slug); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Draft{}, fault.Errorf(fault.NotFound, "no flow with id %d", flowID)
		}
		return Draft{}, fmt.Errorf("save draft: %w", err)
	}
	d := *def
	d.Name = slug
	if d.FormatVersion == 0 {
		d.FormatVersion = engine.FormatVersion
	}
	size, err := json.Marshal(&d)
	if err != nil {
		return Draft{}, fmt.Errorf("save draft: %w", err)
	}
	if len(size) > MaxDefinitionBytes {
		return Draft{}, fault.Errorf(fault.Invalid, "the definition is %d KB; the limit is %d KB — move large sample payloads or lookup tables out", len(size)/1024, MaxDefinitionBytes/1024)
	}
	// Work in progress may fail to compile, but not break the limits
	// checked before parsing: such a draft could not even be shown.
	if err := engine.CheckLimits(&d); err != nil {
		return Draft{}, fault.Wrap(err, fault.Invalid, "the draft is not saved: "+err.Error())
	}
	var userID *int64
	if ed.UserID != 0 {
		userID = &ed.UserID
	}
	out := Draft{FlowID: flowID, Definition: &d}
	err = db.QueryRow(ctx, draftSaveUpdate, flowID, baseRevision, &d, userID, ed.Email).
		Scan(&out.Revision, &out.UpdatedByEmail, &out.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		current, gerr := DraftGet(ctx, db, flowID)
		if gerr != nil {
			return Draft{}, gerr
		}
		return Draft{}, &DraftConflictError{Current: current, Differences: Diff(current.Definition, &d)}
	}
	if err != nil {
		return Draft{}, fmt.Errorf("save draft: %w", err)
	}
	return out, nil
}

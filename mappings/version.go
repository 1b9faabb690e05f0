package mappings

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
)

// Version is an immutable snapshot of a flow's definition.
type Version struct {
	FlowID      int64
	Number      int
	Checksum    string // hex sha256 of the canonical definition JSON
	Note        string
	AuthorEmail string
	CreatedAt   time.Time
	Definition  *engine.Definition
}

// VersionList returns a flow's versions, newest first, without definitions.
func VersionList(ctx context.Context, db txn.DBTX, flowID int64) ([]Version, error) {
	rows, err := db.Query(ctx, versionListSelect, flowID)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Version, error) {
		var v Version
		err := r.Scan(&v.FlowID, &v.Number, &v.Checksum, &v.Note, &v.AuthorEmail, &v.CreatedAt)
		return v, err
	})
}

// VersionGet returns one version with its definition, or NotFound.
func VersionGet(ctx context.Context, db txn.DBTX, flowID int64, number int) (Version, error) {
	var v Version
	err := db.QueryRow(ctx, versionGetSelect, flowID, number).
		Scan(&v.FlowID, &v.Number, &v.Checksum, &v.Note, &v.AuthorEmail, &v.CreatedAt, &v.Definition)
	if errors.Is(err, pgx.ErrNoRows) {
		return Version{}, fault.Errorf(fault.NotFound, "this flow has no version %d", number)
	}
	if err != nil {
		return Version{}, fmt.Errorf("version %d: %w", number, err)
	}
	return v, nil
}

// PublishRefusedError says why a draft cannot become a version: every
// definition problem and every failing test case, so the analyst can fix
// them all in one pass.
type PublishRefusedError struct {
	Diagnostics []engine.Diagnostic
	FailedTests []engine.TestResult
}

func (e *PublishRefusedError) Error() string {
	var parts []string
	if n := len(e.Diagnostics); n > 0 {
		parts = append(parts, fmt.Sprintf("%d problem%s in the definition (first: %s)", n, plural(n), e.Diagnostics[0].String()))
	}
	if n := len(e.FailedTests); n > 0 {
		names := make([]string, n)
		for i, t := range e.FailedTests {
			names[i] = "“" + t.Name + "”"
		}
		parts = append(parts, fmt.Sprintf("%d failing test case%s: %s", n, plural(n), strings.Join(names, ", ")))
	}
	return "cannot publish: " + strings.Join(parts, "; ") + ". Fix them in the draft and publish again"
}

// Unwrap makes a refusal a fault.Invalid for the web layer.
func (e *PublishRefusedError) Unwrap() error {
	return &fault.Error{Code: fault.Invalid, Message: e.Error()}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Check compiles a definition the way publishing does and runs its test
// cases: the gate a version must pass. It returns nil when the definition
// is publishable.
func Check(def *engine.Definition) *PublishRefusedError {
	canonical, err := def.Canonical()
	if err != nil {
		return &PublishRefusedError{Diagnostics: []engine.Diagnostic{{Section: engine.SectionSchema, Message: err.Error()}}}
	}
	parsed, err := engine.ParseDefinition(canonical)
	if err != nil {
		return &PublishRefusedError{Diagnostics: DiagnosticsOf(err)}
	}
	prog, err := engine.Compile(parsed, engine.Options{})
	if err != nil {
		return &PublishRefusedError{Diagnostics: DiagnosticsOf(err)}
	}
	var failed []engine.TestResult
	for _, r := range engine.RunTests(prog, parsed) {
		if !r.Passed {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		return &PublishRefusedError{FailedTests: failed}
	}
	return nil
}

// Warnings are what publishing a definition reports without refusing it:
// each required field of a route's target schema that no row maps, for
// routes that leave unmappedRequired at "warn" (routes set to "error" make
// them problems that Check refuses).
func Warnings(def *engine.Definition) []engine.Diagnostic {
	var out []engine.Diagnostic
	byName := map[string]engine.Route{}
	for _, r := range def.Routes {
		byName[r.Name] = r
	}
	for _, d := range engine.UnmappedRequired(def) {
		if byName[d.Route].UnmappedRequired != engine.UnmappedError {
			out = append(out, d)
		}
	}
	return out
}

// DiagnosticsOf turns a parse or compile error into the diagnostics that
// publishing and the promotion gates report.
func DiagnosticsOf(err error) []engine.Diagnostic {
	var de *engine.DefinitionError
	if errors.As(err, &de) {
		return de.Diagnostics
	}
	return []engine.Diagnostic{{Section: engine.SectionSchema, Message: err.Error()}}
}

// Publish makes the draft at baseRevision version N+1 with a note. It is
// refused (PublishRefusedError) when the draft does not compile or a test
// case fails, with a conflict when the draft changed since baseRevision or
// is identical to the latest version. Call it in a transaction: it locks the
// draft row so two publishes cannot take the same number.
func Publish(ctx context.Context, db txn.DBTX, flowID int64, baseRevision int, note string, ed Editor) (Version, error) {
	var def *engine.Definition
	var revision int
	err := db.QueryRow(ctx, draftLock, flowID).Scan(&def, &revision)
	if errors.Is(err, pgx.ErrNoRows) {
		return Version{}, fault.Errorf(fault.NotFound, "no flow with id %d", flowID)
	}
	if err != nil {
		return Version{}, fmt.Errorf("publish: %w", err)
	}
	if revision != baseRevision {
		return Version{}, fault.Errorf(fault.Conflict, "the draft changed since you opened it (now revision %d, you had %d); reload and check the changes before publishing", revision, baseRevision)
	}
	if refused := Check(def); refused != nil {
		return Version{}, refused
	}
	checksum, err := def.Checksum()
	if err != nil {
		return Version{}, fmt.Errorf("publish: %w", err)
	}
	var latest int
	var latestChecksum string
	err = db.QueryRow(ctx, latestVersionSelect, flowID).Scan(&latest, &latestChecksum)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Version{}, fmt.Errorf("publish: %w", err)
	}
	if latestChecksum == checksum {
		return Version{}, fault.Errorf(fault.Conflict, "the draft is identical to version %d; change something before publishing", latest)
	}
	var userID *int64
	if ed.UserID != 0 {
		userID = &ed.UserID
	}
	v := Version{FlowID: flowID, Number: latest + 1, Checksum: checksum, Note: strings.TrimSpace(note), AuthorEmail: ed.Email, Definition: def}
	err = db.QueryRow(ctx, versionInsert,
		flowID, v.Number, def, checksum, v.Note, userID, ed.Email).Scan(&v.CreatedAt)
	if err != nil {
		return Version{}, fmt.Errorf("publish: %w", err)
	}
	if _, err := db.Exec(ctx, flowTouch, flowID, strings.TrimSpace(def.Source.System)); err != nil {
		return Version{}, fmt.Errorf("publish: %w", err)
	}
	return v, nil
}

// Restore makes version number of flow f the draft again: a new draft
// revision with that version's definition and its audit entry
// ("flow.restore"), in one transaction; the version history is untouched.
// baseRevision guards against overwriting edits the caller has not seen
// (a *DraftConflictError). Every way of restoring calls this.
func Restore(ctx context.Context, db txn.Beginner, f Flow, number, baseRevision int, actor account.Actor) (Draft, error) {
	var saved Draft
	err := txn.Run(ctx, db, func(tx pgx.Tx) error {
		v, err := VersionGet(ctx, tx, f.ID, number)
		if err != nil {
			return err
		}
		if saved, err = DraftSave(ctx, tx, f.ID, baseRevision, v.Definition, Editor{UserID: actor.UserID, Email: actor.Email}); err != nil {
			return err
		}
		sum, _ := saved.Definition.Checksum()
		return account.Audit(ctx, tx, actor, "flow.restore", "flow", f.Slug,
			map[string]any{"revision": baseRevision},
			map[string]any{"revision": saved.Revision, "checksum": sum, "change": fmt.Sprintf("version %d", number)})
	})
	return saved, err
}

// StoredForm returns def as storing it makes it: drafts and versions are
// jsonb, which orders the keys of objects in raw JSON (sample payloads,
// test inputs, schemas) its own way, and a version's checksum is that of
// the stored form. Compare a definition from elsewhere (a file) with a
// version by the checksum of its stored form.
func StoredForm(ctx context.Context, db txn.DBTX, def *engine.Definition) (*engine.Definition, error) {
	var out *engine.Definition
	if err := db.QueryRow(ctx, storedFormSelect, def).Scan(&out); err != nil {
		return nil, fmt.Errorf("stored form of %s: %w", def.Name, err)
	}
	return out, nil
}

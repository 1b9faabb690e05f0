package mappings

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/like"
	"github.com/crossdock/crossdock/internal/txn"
)

// Flow is a named integration, e.g. shopify-order-to-erp.
type Flow struct {
	ID           int64
	Slug         string
	Name         string
	Description  string
	SourceSystem string
	OwnerID      *int64
	OwnerEmail   string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// LatestVersion is the highest published version number, 0 if none.
	LatestVersion int
	// DraftRevision and DraftUpdatedAt describe the draft's last save.
	DraftRevision  int
	DraftUpdatedAt time.Time
	DraftUpdatedBy string
}

// NewFlow is what creating a flow needs. Definition is the initial draft
// (from a template, an import or BlankDefinition).
type NewFlow struct {
	Slug         string
	Name         string
	Description  string
	SourceSystem string
	Definition   *engine.Definition
}

// Editor is who saves or publishes, for authorship and the audit log.
type Editor struct {
	UserID int64
	Email  string
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Slugify turns a name into a slug: "Shopify order → ERP" → "shopify-order-erp".
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

// CheckSlug validates a slug with a message that says what is allowed.
func CheckSlug(slug string) error {
	if !slugPattern.MatchString(slug) {
		return &fault.Error{Code: fault.Invalid,
			Message: "the slug “" + slug + "” must be 1–63 lowercase letters, digits and dashes, starting and ending with a letter or digit (it appears in trigger URLs)",
			Fields:  map[string]string{"slug": "lowercase letters, digits and dashes"}}
	}
	return nil
}

func scanFlow(row pgx.Row) (Flow, error) {
	var f Flow
	err := row.Scan(&f.ID, &f.Slug, &f.Name, &f.Description, &f.SourceSystem, &f.OwnerID, &f.OwnerEmail,
		&f.CreatedAt, &f.UpdatedAt, &f.LatestVersion, &f.DraftRevision, &f.DraftUpdatedAt, &f.DraftUpdatedBy)
	return f, err
}

// MaxFlowNameLength is the longest flow name, in characters.
const MaxFlowNameLength = 200

// CheckFlowName refuses an empty name and one longer than
// MaxFlowNameLength, naming the field.
func CheckFlowName(name string) error {
	if name == "" {
		return &fault.Error{Code: fault.Invalid, Message: "give the flow a name", Fields: map[string]string{"name": "required"}}
	}
	if n := utf8.RuneCountInString(name); n > MaxFlowNameLength {
		return &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("the flow's name is %d characters; at most %d are allowed", n, MaxFlowNameLength),
			Fields: map[string]string{"name": fmt.Sprintf("at most %d characters", MaxFlowNameLength)}}
	}
	return nil
}

// FlowCreate stores a flow and its first draft (revision 1), owned by ed.
func FlowCreate(ctx context.Context, db txn.DBTX, nf NewFlow, ed Editor) (Flow, error) {
	nf.Name = strings.TrimSpace(nf.Name)
	nf.Slug = strings.TrimSpace(nf.Slug)
	if err := CheckFlowName(nf.Name); err != nil {
		return Flow{}, err
	}
	if nf.Slug == "" {
		nf.Slug = Slugify(nf.Name)
	}
	if err := CheckSlug(nf.Slug); err != nil {
		return Flow{}, err
	}
	if nf.Definition == nil {
		nf.Definition = BlankDefinition(nf.Slug, nf.SourceSystem, "")
	}
	def := *nf.Definition
	def.Name = nf.Slug
	if nf.SourceSystem == "" {
		nf.SourceSystem = def.Source.System
	}
	if nf.Description == "" {
		nf.Description = def.Description
	}
	var owner *int64
	if ed.UserID != 0 {
		owner = &ed.UserID
	}
	var id int64
	err := db.QueryRow(ctx, flowInsert, nf.Slug, nf.Name, strings.TrimSpace(nf.Description), strings.TrimSpace(nf.SourceSystem), owner).Scan(&id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation {
		return Flow{}, &fault.Error{Code: fault.Conflict, Message: "a flow with the slug “" + nf.Slug + "” already exists; choose another slug", Fields: map[string]string{"slug": "already in use"}}
	}
	if err != nil {
		return Flow{}, fmt.Errorf("create flow: %w", err)
	}
	if _, err := db.Exec(ctx, draftInsert,
		id, &def, owner, ed.Email); err != nil {
		return Flow{}, fmt.Errorf("create draft: %w", err)
	}
	return FlowByID(ctx, db, id)
}

// FlowByID returns a flow or NotFound.
func FlowByID(ctx context.Context, db txn.DBTX, id int64) (Flow, error) {
	f, err := scanFlow(db.QueryRow(ctx, flowByIDSelect, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Flow{}, fault.Errorf(fault.NotFound, "no flow with id %d", id)
	}
	if err != nil {
		return Flow{}, fmt.Errorf("flow %d: %w", id, err)
	}
	return f, nil
}

// FlowBySlug returns a flow or NotFound.
func FlowBySlug(ctx context.Context, db txn.DBTX, slug string) (Flow, error) {
	f, err := scanFlow(db.QueryRow(ctx, flowBySlugSelect, slug))
	if errors.Is(err, pgx.ErrNoRows) {
		return Flow{}, fault.Errorf(fault.NotFound, "no flow “%s”; check the address or pick it from the flows list", slug)
	}
	if err != nil {
		return Flow{}, fmt.Errorf("flow %s: %w", slug, err)
	}
	return f, nil
}

// FlowFilter narrows the flows list. Zero values match everything.
type FlowFilter struct {
	Search       string // in slug, name or description
	SourceSystem string // exact
}

// FlowList returns flows, most recently changed first.
func FlowList(ctx context.Context, db txn.DBTX, f FlowFilter) ([]Flow, error) {
	sql := flowListSelect
	rows, err := db.Query(ctx, sql, like.Escape(strings.TrimSpace(f.Search)), f.SourceSystem)
	if err != nil {
		return nil, fmt.Errorf("list flows: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Flow, error) { return scanFlow(r) })
}

// SourceSystems lists the distinct source systems of all flows, for filters.
func SourceSystems(ctx context.Context, db txn.DBTX) ([]string, error) {
	rows, err := db.Query(ctx, sourceSystemsSelect)
	if err != nil {
		return nil, fmt.Errorf("list source systems: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

package release

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// importVersions verifies a bundle and stores its flows and versions: a new
// flow is created with its newest version as the draft; a version that is
// here with the same checksum is left alone, so importing the same bundle
// twice changes nothing; a version number that is here with a different
// checksum refuses the whole import (Conflict), since versions are
// immutable. With dryRun nothing is written. Call it in a transaction,
// after the policy admitted the actor.
func importVersions(ctx context.Context, db txn.DBTX, b *Bundle, key []byte, dryRun bool, ed mappings.Editor) (ImportPlan, error) {
	note, err := b.Verify(key)
	if err != nil {
		return ImportPlan{}, err
	}
	plan := ImportPlan{Note: note, Flows: []ImportFlowPlan{}}
	for _, bf := range b.Flows {
		fp := ImportFlowPlan{Slug: bf.Slug, Versions: []ImportVersionPlan{}}
		f, err := mappings.FlowBySlug(ctx, db, bf.Slug)
		switch {
		case fault.CodeOf(err) == fault.NotFound:
			fp.NewFlow = true
		case err != nil:
			return ImportPlan{}, err
		}
		var newestHere *engine.Definition
		if !fp.NewFlow && f.LatestVersion > 0 {
			v, err := mappings.VersionGet(ctx, db, f.ID, f.LatestVersion)
			if err != nil {
				return ImportPlan{}, err
			}
			newestHere = v.Definition
		}
		var newest *engine.Definition
		for _, bv := range bf.Versions {
			def, err := engine.ParseDefinition(bv.Definition)
			if err != nil {
				return ImportPlan{}, fault.Errorf(fault.Invalid, "%s v%d: %v", bf.Slug, bv.Number, err)
			}
			if bv.Number >= fp.Latest {
				fp.Latest, newest = bv.Number, def
			}
			action := ImportCreate
			if !fp.NewFlow {
				var here string
				err := db.QueryRow(ctx, versionChecksumSelect, f.ID, bv.Number).Scan(&here)
				switch {
				case err == nil && here == bv.Checksum:
					action = ImportUnchanged
				case err == nil:
					return ImportPlan{}, fault.Errorf(fault.Conflict, "%s v%d exists here with a different checksum (here %s…, in the bundle %s…); versions are immutable, so nothing was imported. Publish the change as a new version where the bundle came from, or rename the flow",
						bf.Slug, bv.Number, short(here), short(bv.Checksum))
				case !errors.Is(err, pgx.ErrNoRows):
					return ImportPlan{}, fmt.Errorf("import %s v%d: %w", bf.Slug, bv.Number, err)
				}
			}
			fp.Versions = append(fp.Versions, ImportVersionPlan{Number: bv.Number, Checksum: bv.Checksum, Action: action})
		}
		fp.Diff = mappings.Diff(newestHere, newest)
		plan.Flows = append(plan.Flows, fp)
		if dryRun {
			continue
		}
		if fp.NewFlow {
			if newest == nil {
				return ImportPlan{}, fault.Errorf(fault.Invalid, "%s has no versions in the bundle", bf.Slug)
			}
			if f, err = mappings.FlowCreate(ctx, db, mappings.NewFlow{Slug: bf.Slug, Name: bf.Name, Description: bf.Description, SourceSystem: bf.SourceSystem, Definition: newest}, ed); err != nil {
				return ImportPlan{}, err
			}
		}
		origin := "bundle"
		if b.Source != "" {
			origin = "bundle from " + b.Source
		}
		for i, bv := range bf.Versions {
			if fp.Versions[i].Action != ImportCreate {
				continue
			}
			def, _ := engine.ParseDefinition(bv.Definition)
			if _, err := db.Exec(ctx, importedVersionInsert, f.ID, bv.Number, def, bv.Checksum, bv.Note, bv.Author, bv.CreatedAt, origin); err != nil {
				return ImportPlan{}, fmt.Errorf("import %s v%d: %w", bf.Slug, bv.Number, err)
			}
		}
	}
	return plan, nil
}

package release

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// Import is what ImportBundle needs besides the bundle.
type Import struct {
	// Key is the installation's promotion key: with one, only bundles
	// signed with it are accepted.
	Key []byte
	// DryRun only plans: nothing is written (refusals are still audited).
	DryRun bool
	// From says where the bundle came from, for the audit log: a file name,
	// "upload", "api".
	From string
	// Environment, when set, promotes each flow's newest version of the
	// bundle there after the import, through Promote's rule and gates.
	Environment string
	// RequestOnly files promotion requests even where the environment
	// would switch at once.
	RequestOnly bool
	// Now is when the gates run (default: the wall clock).
	Now time.Time
	// Kinds say which targets need configuration, for the gates of
	// Environment (required with it; the transport registry).
	Kinds TargetKinds
}

// FlowPromotion is what promoting one imported flow did; Unchanged when
// the environment already runs that version.
type FlowPromotion struct {
	Flow    string
	Version int
	PromotionResult
	Unchanged bool
}

// Imported is what ImportBundle did.
type Imported struct {
	Plan       ImportPlan
	Promotions []FlowPromotion
}

// ImportBundle is the one bundle import, for the upload page, the API and
// `crossdock import`. It checks that the actor may import every flow of
// the bundle and, with an Environment, promote each there — before
// anything is written — then verifies the bundle, stores its new versions
// (see the plan for what is new) and, with an Environment, promotes each
// flow's newest version of the bundle as Promote does (gates, protection,
// requests). All of it is one transaction with its audit entries
// (bundle.import, then promotion.deploy or promotion.request per flow): a
// refusal anywhere — the signature, a checksum, a version here with another
// checksum, the policy, a gate — leaves nothing imported and is audited as
// bundle.refuse with the reason.
func ImportBundle(ctx context.Context, db DB, a Actor, b *Bundle, in Import) (Imported, error) {
	var out Imported
	var slugs []string
	for _, f := range b.Flows {
		slugs = append(slugs, f.Slug)
	}
	err := txn.Run(ctx, db, func(tx pgx.Tx) error {
		var err error
		out, err = importBundle(ctx, tx, a, b, slugs, in)
		return err
	})
	if err != nil {
		what := map[string]any{"flows": slugs, "from": in.From}
		if in.Environment != "" {
			what["environment"] = in.Environment
		}
		a.refused(ctx, db, err, "bundle.refuse", "bundle", b.Source, what)
	}
	return out, err
}

func importBundle(ctx context.Context, tx txn.DBTX, a Actor, b *Bundle, slugs []string, in Import) (Imported, error) {
	if err := a.MayImport(slugs); err != nil {
		return Imported{}, err
	}
	var env Environment
	if in.Environment != "" {
		var err error
		if env, err = EnvironmentByName(ctx, tx, in.Environment); err != nil {
			return Imported{}, err
		}
		for _, slug := range slugs {
			if err := a.MayPromote(env, slug); err != nil {
				return Imported{}, err
			}
		}
	}
	plan, err := importVersions(ctx, tx, b, in.Key, in.DryRun, a.editor())
	if err != nil {
		return Imported{}, err
	}
	out := Imported{Plan: plan}
	if in.DryRun {
		return out, nil
	}
	if plan.Changed() {
		var created []string
		for _, f := range plan.Flows {
			for _, v := range f.Versions {
				if v.Action == ImportCreate {
					created = append(created, fmt.Sprintf("%s v%d", f.Slug, v.Number))
				}
			}
		}
		if err := account.Audit(ctx, tx, a.audit(), "bundle.import", "bundle", b.Source, nil,
			map[string]any{"created": created, "note": plan.Note, "from": in.From}); err != nil {
			return Imported{}, err
		}
	}
	if in.Environment == "" {
		return out, nil
	}
	reason := "imported from a bundle"
	if in.From != "" {
		reason = "imported from " + in.From
	}
	for _, pf := range plan.Flows {
		f, err := mappings.FlowBySlug(ctx, tx, pf.Slug)
		if err != nil {
			return Imported{}, err
		}
		res, err := promote(ctx, tx, a, Promotion{Flow: f, Environment: env, Version: pf.Latest, Reason: reason, RequestOnly: in.RequestOnly, Now: in.Now, Kinds: in.Kinds})
		if fault.CodeOf(err) == fault.Conflict {
			out.Promotions = append(out.Promotions, FlowPromotion{Flow: f.Slug, Version: pf.Latest, Unchanged: true})
			continue // already runs it: importing twice changes nothing
		}
		if err != nil {
			return Imported{}, err
		}
		out.Promotions = append(out.Promotions, FlowPromotion{Flow: f.Slug, Version: pf.Latest, PromotionResult: res})
	}
	return out, nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// demoFlow is the flow the demo seed creates.
const demoFlow = "storefront-orders"

// seedDemo makes a fresh installation ready to try: the storefront-order
// template as flow storefront-orders, published and deployed to dev, its
// ERP target pointed at the built-in fake ERP, and an API key for dev
// printed once. It does nothing when the flow already exists, so every
// `make run` after the first starts as it was left.
func seedDemo(ctx context.Context, pool *pgxpool.Pool, sealer *secret.Sealer, targetsURL, baseURL string, log *slog.Logger, out io.Writer) error {
	if _, err := mappings.FlowBySlug(ctx, pool, demoFlow); err == nil {
		log.Info("demo already seeded", "flow", demoFlow, "note", "create another key with `crossdock apikey create --env dev --name NAME`")
		return nil
	} else if fault.CodeOf(err) != fault.NotFound {
		return err
	}
	var token string
	err := txn.Run(ctx, pool, func(tx pgx.Tx) error {
		f, dev, err := publishDemoTemplate(ctx, tx, "storefront-order-to-erp", "Storefront orders → ERP", demoFlow)
		if err != nil {
			return err
		}
		for _, v := range []struct{ k, v string }{{"ERP_COMPANY", "1000"}} {
			if err := release.VariableSet(ctx, tx, dev.ID, v.k, v.v); err != nil {
				return err
			}
		}
		erp := release.DefaultTargetConfig(dev.ID, "erp-sales-orders")
		erp.URLTemplate = targetsURL + "/erp/sales-orders"
		erp.Retry.BaseDelay = erp.Retry.BaseDelay / 2
		kinds := pipeline.Transports(pool, nil)
		if _, err := release.ConfigureTarget(ctx, tx, sealer, kinds, release.System("demo-seed"),
			release.TargetConfiguration{Environment: dev, Kind: "http", Config: erp}); err != nil {
			return err
		}
		// Configured first, so that the gates pass: the seed deploys
		// through the release policy like everyone else.
		if _, err := release.Promote(ctx, tx, release.System("demo-seed"), release.Promotion{Flow: f, Environment: dev, Version: 1, Reason: "demo seed", Kinds: kinds}); err != nil {
			return err
		}
		_, token, err = account.APIKeyCreate(ctx, tx, account.NewAPIKey{Name: "demo", Environment: "dev", RatePerMinute: 60000}, account.Actor{Email: "demo-seed"})
		return err
	})
	if err != nil {
		return fmt.Errorf("demo seed: %w", err)
	}
	fmt.Fprintf(out, `
Demo ready: flow %[1]s (v1) runs in dev and delivers to a fake ERP at %[2]s
(it fails 10%% of requests with 503, so you will see retries).
API key for dev, shown only now: %[3]s

Post a sample order:
  curl -s -X POST %[4]s/api/v1/envs/dev/flows/%[1]s/messages \
    -H 'Authorization: Bearer %[3]s' -H 'Content-Type: application/json' \
    --data @docs/demo-order.json

then open the status URL it returns, or %[4]s/messages/<id> in the browser.

`, demoFlow, targetsURL, token, baseURL)
	return nil
}

// publishDemoTemplate creates a flow from a shipped template and publishes
// it as version 1, for the demo seeds, which then configure its targets
// in dev (returned) and promote it there through the release policy.
func publishDemoTemplate(ctx context.Context, tx pgx.Tx, templateID, name, slug string) (mappings.Flow, release.Environment, error) {
	tpl, ok := mappings.TemplateByID(templateID)
	if !ok {
		return mappings.Flow{}, release.Environment{}, fmt.Errorf("demo: the %s template is missing", templateID)
	}
	def, err := engine.ParseDefinition(tpl.Definition)
	if err != nil {
		return mappings.Flow{}, release.Environment{}, err
	}
	ed := mappings.Editor{Email: "demo-seed"}
	f, err := mappings.FlowCreate(ctx, tx, mappings.NewFlow{Name: name, Slug: slug, Definition: def}, ed)
	if err != nil {
		return mappings.Flow{}, release.Environment{}, err
	}
	if _, err := mappings.Publish(ctx, tx, f.ID, f.DraftRevision, "demo seed", ed); err != nil {
		return mappings.Flow{}, release.Environment{}, err
	}
	if f, err = mappings.FlowByID(ctx, tx, f.ID); err != nil { // with its published version
		return mappings.Flow{}, release.Environment{}, err
	}
	dev, err := release.EnvironmentByName(ctx, tx, "dev")
	return f, dev, err
}

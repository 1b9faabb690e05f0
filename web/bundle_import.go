package web

import (
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

// MaxBundleBytes caps an uploaded bundle.
const MaxBundleBytes = 32 << 20

// importBundle verifies and imports (or, dryRun, only plans) a bundle,
// audited; with env and deploy it then promotes each flow's newest version
// of the bundle to env through the gates.
// importedDeploy is what promoting one imported flow did.
type importedDeploy struct {
	Flow string
	mappings.PromotionResult
}

func (s *Server) importBundle(c *fiber.Ctx, data []byte, dryRun bool, envName string, deploy bool) (mappings.ImportPlan, []importedDeploy, error) {
	ctx := c.UserContext()
	b, err := mappings.ParseBundle(data)
	if err != nil {
		return mappings.ImportPlan{}, nil, err
	}
	if k := apiKeyOf(c); k != nil && userOf(c) == nil {
		for _, f := range b.Flows {
			if !k.AllowsFlow(f.Slug) {
				return mappings.ImportPlan{}, nil, forbiddenFlow(k, f.Slug)
			}
		}
	}
	var plan mappings.ImportPlan
	err = txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
		var err error
		if plan, err = mappings.BundleImport(ctx, tx, b, s.cfg.PromotionKey, dryRun, editorOf(c)); err != nil {
			return err
		}
		if dryRun || !plan.Changed() {
			return nil
		}
		var created []string
		for _, f := range plan.Flows {
			for _, v := range f.Versions {
				if v.Action == mappings.ImportCreate {
					created = append(created, fmt.Sprintf("%s v%d", f.Slug, v.Number))
				}
			}
		}
		return account.Audit(ctx, tx, actorOf(c), "bundle.import", "bundle", b.Source, nil,
			map[string]any{"created": created, "note": plan.Note})
	})
	if err != nil {
		_ = account.Audit(ctx, s.deps.DB, actorOf(c), "bundle.refuse", "bundle", b.Source, nil, map[string]any{"why": toFault(err).Message})
		return plan, nil, err
	}
	if dryRun || !deploy {
		return plan, nil, nil
	}
	if envName == "" {
		return plan, nil, &fault.Error{Code: fault.Invalid, Message: "deploying an imported bundle needs the environment to deploy to", Fields: map[string]string{"env": "required"}}
	}
	var results []importedDeploy
	for _, f := range plan.Flows {
		res, _, err := s.promote(c, f.Slug, envName, fmt.Sprint(f.Latest), "imported from a bundle")
		if fault.CodeOf(err) == fault.Conflict {
			continue // already runs it: importing twice changes nothing
		}
		if err != nil {
			return plan, results, err
		}
		results = append(results, importedDeploy{Flow: f.Slug, PromotionResult: res})
	}
	return plan, results, nil
}

// bundleImport is the upload form: a dry run shows what would change (and
// offers "Import now"), otherwise the bundle is imported.
func (s *Server) bundleImport() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var data []byte
		if fh, err := c.FormFile("bundle"); err == nil {
			if fh.Size > MaxBundleBytes {
				return fault.Errorf(fault.TooLarge, "the bundle is %d MB; at most %d MB", fh.Size>>20, MaxBundleBytes>>20)
			}
			file, err := fh.Open()
			if err != nil {
				return err
			}
			defer file.Close()
			if data, err = io.ReadAll(io.LimitReader(file, MaxBundleBytes)); err != nil {
				return err
			}
		} else {
			data = []byte(c.FormValue("bundle_json"))
		}
		v, err := s.bundlesView(c)
		if err != nil {
			return err
		}
		if len(strings.TrimSpace(string(data))) == 0 {
			v.Error = "Choose a bundle file (made by crossdock export or the Export button)."
			c.Status(fiber.StatusUnprocessableEntity)
			return s.render(c, view.BundlesPage(s.page(c, "Bundles", "promotions"), v))
		}
		v.DryRun = c.FormValue("dry_run") != ""
		plan, _, err := s.importBundle(c, data, v.DryRun, "", false)
		if code := fault.CodeOf(err); code == fault.Invalid || code == fault.Conflict {
			v.Error = "Refused: " + toFault(err).Message + "."
			c.Status(toStatus(err))
			return s.render(c, view.BundlesPage(s.page(c, "Bundles", "promotions"), v))
		}
		if err != nil {
			return err
		}
		v.Plan = planView(plan)
		if v.DryRun {
			v.BundleJSON = string(data)
		}
		return s.render(c, view.BundlesPage(s.page(c, "Bundles", "promotions"), v))
	}
}

func forbiddenFlow(k *account.APIKey, slug string) error {
	return fault.Errorf(fault.Forbidden, "the API key %s is limited to %s; not %s", k.Prefix, strings.Join(k.Flows, ", "), slug)
}

package web

import (
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// MaxBundleBytes caps an uploaded bundle.
const MaxBundleBytes = 32 << 20

// importBundle verifies and imports (or, dryRun, only plans) a bundle for
// the upload page and the API; with env it then promotes each flow's newest
// version of the bundle there. release.ImportBundle decides and audits,
// refusals included.
func (s *Server) importBundle(c *fiber.Ctx, data []byte, dryRun bool, env, from string) (release.Imported, error) {
	b, err := release.ParseBundle(data)
	if err != nil {
		return release.Imported{}, err
	}
	return release.ImportBundle(c.UserContext(), s.deps.DB, releaseActor(c), b,
		release.Import{Key: s.cfg.PromotionKey, DryRun: dryRun, From: from, Environment: env, Now: s.deps.Now(), Kinds: s.deps.Transports})
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
		imported, err := s.importBundle(c, data, v.DryRun, "", "upload")
		if code := fault.CodeOf(err); code == fault.Invalid || code == fault.Conflict {
			v.Error = "Refused: " + toFault(err).Message + "."
			c.Status(toStatus(err))
			return s.render(c, view.BundlesPage(s.page(c, "Bundles", "promotions"), v))
		}
		if err != nil {
			return err
		}
		v.Plan = planView(imported.Plan)
		if v.DryRun {
			v.BundleJSON = string(data)
		}
		return s.render(c, view.BundlesPage(s.page(c, "Bundles", "promotions"), v))
	}
}

func forbiddenFlow(k *account.APIKey, slug string) error {
	return fault.Errorf(fault.Forbidden, "the API key %s is limited to %s; not %s", k.Prefix, strings.Join(k.Flows, ", "), slug)
}

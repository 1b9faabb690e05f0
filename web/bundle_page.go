package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// bundlesPage offers export (pick flows) and import (upload, dry run).
func (s *Server) bundlesPage() fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := s.bundlesView(c)
		if err != nil {
			return err
		}
		return s.render(c, view.BundlesPage(s.page(c, "Bundles", "promotions"), v))
	}
}

func (s *Server) bundlesView(c *fiber.Ctx) (view.BundlesView, error) {
	v := view.BundlesView{Signing: len(s.cfg.PromotionKey) > 0, CanImport: canEditFlows(c)}
	flows, err := mappings.FlowList(c.UserContext(), s.deps.DB, mappings.FlowFilter{})
	if err != nil {
		return v, err
	}
	for _, f := range flows {
		if f.LatestVersion > 0 {
			v.Flows = append(v.Flows, f.Slug)
		}
	}
	return v, nil
}

func planView(p release.ImportPlan) *view.ImportPlanView {
	v := &view.ImportPlanView{Note: p.Note, Changed: p.Changed()}
	for _, f := range p.Flows {
		fv := view.ImportFlowView{Slug: f.Slug, NewFlow: f.NewFlow, Diff: diffView(f.Diff)}
		for _, ver := range f.Versions {
			fv.Versions = append(fv.Versions, view.ImportVersionView{Number: ver.Number, Checksum: ver.Checksum, Action: ver.Action})
		}
		v.Flows = append(v.Flows, fv)
	}
	return v
}

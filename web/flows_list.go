package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

// flowsList shows flows filtered by the query string, and the create form.
func (s *Server) flowsList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.renderFlows(c, view.NewFlowForm{Template: "storefront-order-to-erp"})
	}
}

func (s *Server) renderFlows(c *fiber.Ctx, form view.NewFlowForm) error {
	ctx := c.UserContext()
	v := view.FlowsView{Search: c.Query("q"), System: c.Query("system"), CanEdit: canEditFlows(c), Form: form}
	flows, err := mappings.FlowList(ctx, s.deps.DB, mappings.FlowFilter{Search: v.Search, SourceSystem: v.System})
	if err != nil {
		return err
	}
	for _, f := range flows {
		last, by := f.UpdatedAt, ""
		if f.DraftUpdatedAt.After(last) {
			last, by = f.DraftUpdatedAt, f.DraftUpdatedBy
		}
		v.Flows = append(v.Flows, view.FlowRow{
			Slug: f.Slug, Name: f.Name, Description: f.Description, SourceSystem: f.SourceSystem,
			LatestVersion: f.LatestVersion, LastChange: when(last), LastChangedBy: by,
		})
	}
	if v.Systems, err = mappings.SourceSystems(ctx, s.deps.DB); err != nil {
		return err
	}
	templates, err := mappings.Templates()
	if err != nil {
		return err
	}
	for _, t := range templates {
		v.Templates = append(v.Templates, view.TemplateOption{ID: t.ID, Name: t.Name, Description: t.Description})
	}
	return s.render(c, view.FlowsPage(s.page(c, "Flows", "flows"), v))
}

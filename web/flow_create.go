package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

// flowCreate creates a flow, blank or from a shipped template, and opens it
// in the designer.
func (s *Server) flowCreate() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		form := view.NewFlowForm{Name: c.FormValue("name"), Slug: c.FormValue("slug"), Template: c.FormValue("template")}
		nf := mappings.NewFlow{Name: form.Name, Slug: form.Slug}
		if form.Template != "" {
			tpl, ok := mappings.TemplateByID(form.Template)
			if !ok {
				return &fault.Error{Code: fault.Invalid, Message: "there is no template “" + form.Template + "”"}
			}
			def, err := engine.ParseDefinition(tpl.Definition)
			if err != nil {
				return err
			}
			nf.Definition = def
		}
		var f mappings.Flow
		err := txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
			var err error
			if f, err = mappings.FlowCreate(ctx, tx, nf, editorOf(c)); err != nil {
				return err
			}
			return account.Audit(ctx, tx, actorOf(c), "flow.create", "flow", f.Slug, nil,
				map[string]any{"slug": f.Slug, "name": f.Name, "template": form.Template})
		})
		if fe, ok := fault.As(err); ok && (fe.Code == fault.Invalid || fe.Code == fault.Conflict) {
			form.Error, form.FieldErrors = capitalize(fe.Message)+".", fe.Fields
			c.Status(statusOf[fe.Code])
			return s.renderFlows(c, form)
		}
		if err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Created %s. Edit the mapping, then save and publish.", f.Name))
		return c.Redirect("/flows/"+f.Slug, fiber.StatusSeeOther)
	}
}

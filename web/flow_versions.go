package web

import (
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

// flowVersions lists versions and, with ?a=&b=, compares two of them (or a
// version and the draft) row by row.
func (s *Server) flowVersions() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		versions, err := mappings.VersionList(ctx, s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		v := view.VersionsView{
			Flow:    view.FlowHeader{Slug: f.Slug, Name: f.Name, LatestVersion: f.LatestVersion, Revision: f.DraftRevision},
			CanEdit: canEditFlows(c), A: c.Query("a"), B: c.Query("b"),
		}
		for _, ver := range versions {
			v.Versions = append(v.Versions, view.VersionRow{Number: ver.Number, Checksum: ver.Checksum, Note: ver.Note, Author: ver.AuthorEmail, Created: when(ver.CreatedAt)})
		}
		if v.A == "" && len(versions) > 0 {
			// Default: what changed in the latest version.
			v.B = strconv.Itoa(versions[0].Number)
			v.A = "draft"
			if len(versions) > 1 {
				v.A = strconv.Itoa(versions[1].Number)
			}
		}
		if c.Query("a") != "" && c.Query("b") != "" {
			a, err := s.definitionAt(c, f, "a", v.A)
			if err != nil {
				return err
			}
			b, err := s.definitionAt(c, f, "b", v.B)
			if err != nil {
				return err
			}
			v.Compared = true
			v.Diff = diffView(mappings.Diff(a, b))
		}
		return s.render(c, view.VersionsPage(s.page(c, f.Name+" versions", "flows"), v))
	}
}

// definitionAt returns the draft ("draft") or a version's definition, as
// field asked for it.
func (s *Server) definitionAt(c *fiber.Ctx, f mappings.Flow, field, which string) (*engine.Definition, error) {
	if which == "draft" {
		d, err := mappings.DraftGet(c.UserContext(), s.deps.DB, f.ID)
		return d.Definition, err
	}
	n, err := parseVersionNumber(field, which)
	if fe, ok := fault.As(err); ok {
		fe.Message += ", or draft"
		return nil, fe
	}
	v, err := mappings.VersionGet(c.UserContext(), s.deps.DB, f.ID, n)
	return v.Definition, err
}

// flowRestore makes an old version the draft again.
func (s *Server) flowRestore() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, base, err := s.flowForChange(c)
		if err != nil {
			return err
		}
		n, err := parseVersionNumber("n", c.Params("n"))
		if err != nil {
			return err
		}
		if _, err := mappings.Restore(c.UserContext(), s.deps.DB, f, n, base, actorOf(c)); err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Restored version %d as the draft.", n))
		return c.Redirect("/flows/"+f.Slug, fiber.StatusSeeOther)
	}
}

// flowExport downloads the draft (or ?version=N) in the documented format,
// so flows can live in git.
func (s *Server) flowExport() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		which, name := "draft", f.Slug+".draft.json"
		if q := c.Query("version"); q != "" {
			which, name = q, fmt.Sprintf("%s.v%s.json", f.Slug, q)
		}
		def, err := s.definitionAt(c, f, "version", which)
		if err != nil {
			return err
		}
		body, err := prettyDefinition(def)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
		return c.Send(body)
	}
}

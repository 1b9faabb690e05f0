package web

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// promotionPreview shows the promotion form and, once a flow and an
// environment are picked, the preview: the diff against what the
// environment runs and the gates.
func (s *Server) promotionPreview() fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := s.promoteView(c, c.Query("flow"), c.Query("to"), c.Query("version"))
		if err != nil {
			return err
		}
		return s.render(c, view.PromotePage(s.page(c, "Promote", "promotions"), v))
	}
}

// promoteView builds the promotion page for a flow, an environment and a
// version ("" = the default: what the previous environment runs).
func (s *Server) promoteView(c *fiber.Ctx, slug, to, version string) (view.PromoteView, error) {
	ctx := c.UserContext()
	var v view.PromoteView
	flows, err := mappings.FlowList(ctx, s.deps.DB, mappings.FlowFilter{})
	if err != nil {
		return v, err
	}
	for _, f := range flows {
		if f.LatestVersion > 0 {
			v.Flows = append(v.Flows, f.Slug)
		}
	}
	envs, err := release.EnvironmentList(ctx, s.deps.DB)
	if err != nil {
		return v, err
	}
	for _, e := range envs {
		v.Environments = append(v.Environments, e.Name)
	}
	if slug == "" && len(v.Flows) > 0 {
		slug = v.Flows[0]
	}
	if slug == "" {
		v.Error = "No flow has a published version yet; publish one in the designer first."
		return v, nil
	}
	f, err := mappings.FlowBySlug(ctx, s.deps.DB, slug)
	if err != nil {
		return v, err
	}
	v.Flow = f.Slug
	for n := f.LatestVersion; n >= 1; n-- {
		v.Versions = append(v.Versions, n)
	}
	if to == "" {
		return v, nil
	}
	env, err := release.EnvironmentByName(ctx, s.deps.DB, to)
	if err != nil {
		return v, err
	}
	v.To, v.Protected = env.Name, env.Protected
	if prev, ok, err := release.PreviousEnvironment(ctx, s.deps.DB, env); err != nil {
		return v, err
	} else if ok {
		v.From = prev.Name
		if d, err := release.DeploymentCurrent(ctx, s.deps.DB, prev.ID, f.ID); err == nil {
			v.FromVersion = d.VersionNumber
		}
	}
	if version = strings.TrimSpace(strings.TrimPrefix(version, "v")); version != "" {
		if v.Version, err = parseVersionNumber("version", version); err != nil {
			v.Error = capitalize(toFault(err).Message) + "."
			return v, nil
		}
	} else if v.Version, err = release.DefaultPromotionVersion(ctx, s.deps.DB, f, env); err != nil {
		return v, err
	}
	pv, err := release.PreviewPromotion(ctx, s.deps.DB, s.deps.Transports, f, v.Version, env, s.deps.Now())
	if err != nil {
		return v, err
	}
	v.Previewed = true
	if pv.Current != nil {
		v.Current = pv.Current.VersionNumber
	}
	if pv.CurrentDefinition == nil {
		v.Diff = firstDeployment(pv.Version.Definition)
	} else {
		v.Diff = diffView(pv.Diff)
	}
	v.Gates = gatesView(pv.Gates, s.deps.Transports)
	return v, nil
}

// promotionCreate promotes the chosen version: at once into an unprotected
// environment, as a request for an approver into a protected one. Failing
// gates show the preview again with what failed.
func (s *Server) promotionCreate() fiber.Handler {
	return func(c *fiber.Ctx) error {
		slug, to, version, reason := c.FormValue("flow"), c.FormValue("to"), c.FormValue("version"), c.FormValue("reason")
		res, env, err := s.promote(c, slug, to, version, reason)
		var refused *release.GatesFailedError
		if errors.As(err, &refused) || fault409(err) {
			v, verr := s.promoteView(c, slug, to, version)
			if verr != nil {
				return verr
			}
			v.Reason = reason
			v.Error = capitalize(toFault(err).Message) + "."
			if refused != nil {
				v.Gates = gatesView(refused.Gates, s.deps.Transports)
				v.Error = "Not promoted: the gates failed. " + strings.Join(refused.Gates.Failures(), "; ") + "."
			}
			c.Status(toStatus(err))
			return s.render(c, view.PromotePage(s.page(c, "Promote", "promotions"), v))
		}
		if err != nil {
			return err
		}
		if res.Request != nil {
			s.flash(c, "Promotion requested: "+env.Name+" is protected, so an approver other than you must approve it.")
			return c.Redirect("/promotions/"+strconv.FormatInt(res.Request.ID, 10), fiber.StatusSeeOther)
		}
		s.flash(c, "Promoted "+slug+" v"+strconv.Itoa(res.Deployment.VersionNumber)+" to "+env.Name+"; the gates passed.")
		return c.Redirect("/environments/"+env.Name+"/flows/"+slug, fiber.StatusSeeOther)
	}
}

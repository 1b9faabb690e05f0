package web

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// deploymentHistory lists every deployment of a flow to an environment with
// who, when, why and the gates, and offers the one-step rollback.
func (s *Server) deploymentHistory() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		hist, err := release.DeploymentHistory(ctx, s.deps.DB, env.ID, f.ID)
		if err != nil {
			return err
		}
		u := userOf(c)
		v := view.HistoryView{Environment: env.Name, Flow: f.Slug, Protected: env.Protected,
			CanRollback: u != nil && releaseActor(c).MayRollback(env, f.Slug) == nil, CanPromote: u != nil && u.Can(promoters...)}
		for i, d := range hist {
			v.Rows = append(v.Rows, view.HistoryRow{Version: d.VersionNumber, Kind: d.Kind, By: d.DeployedByEmail,
				At: when(d.DeployedAt), Reason: d.Reason, Active: d.Active,
				Checked: d.Gates.Checked(), Passed: d.Gates.Passed(), Summary: gatesSummary(d.Gates), Failures: d.Gates.Failures()})
			if i > 0 && v.RollbackTo == 0 && len(hist) > 0 && hist[0].Active && d.VersionNumber != hist[0].VersionNumber {
				v.RollbackTo = d.VersionNumber
			}
		}
		if v.CanPromote {
			if v.PromoteHref, v.PromoteLabel, err = historyPromotion(c, s, env, f.Slug, hist); err != nil {
				return err
			}
		}
		return s.render(c, view.HistoryPage(s.page(c, f.Slug+" in "+env.Name, "environments"), v))
	}
}

// historyPromotion is where "Promote…" on an environment's history leads:
// the version running here on to the next environment, or, from the last
// environment, another version into this one.
func historyPromotion(c *fiber.Ctx, s *Server, env release.Environment, flow string, hist []release.Deployment) (href, label string, err error) {
	next, ok, err := release.NextEnvironment(c.UserContext(), s.deps.DB, env)
	if err != nil {
		return "", "", err
	}
	q := url.Values{"flow": {flow}}
	if !ok || len(hist) == 0 || !hist[0].Active {
		q.Set("to", env.Name)
		return "/promote?" + q.Encode(), "Deploy a version here…", nil
	}
	q.Set("to", next.Name)
	q.Set("version", strconv.Itoa(hist[0].VersionNumber))
	return "/promote?" + q.Encode(), "Promote v" + strconv.Itoa(hist[0].VersionNumber) + " to " + next.Name + "…", nil
}

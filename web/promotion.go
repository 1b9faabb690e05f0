package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// promote runs a promotion for the page and the API alike: the gates, then
// the deployment or the request, audited in the same transaction.
func (s *Server) promote(c *fiber.Ctx, slug, to, version, reason string) (mappings.PromotionResult, mappings.Environment, error) {
	ctx := c.UserContext()
	env, err := mappings.EnvironmentByName(ctx, s.deps.DB, to)
	if err != nil {
		return mappings.PromotionResult{}, env, err
	}
	if err := mayPromoteTo(c, env); err != nil {
		return mappings.PromotionResult{}, env, err
	}
	f, err := mappings.FlowBySlug(ctx, s.deps.DB, slug)
	if err != nil {
		return mappings.PromotionResult{}, env, err
	}
	if k := apiKeyOf(c); k != nil && userOf(c) == nil && !k.AllowsFlow(f.Slug) {
		return mappings.PromotionResult{}, env, fault.Errorf(fault.Forbidden, "the API key %s is limited to %s", k.Prefix, strings.Join(k.Flows, ", "))
	}
	n, err := parseVersionNumber("version", version)
	if err != nil {
		return mappings.PromotionResult{}, env, err
	}
	var res mappings.PromotionResult
	err = txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
		before := 0
		if d, err := mappings.DeploymentCurrent(ctx, tx, env.ID, f.ID); err == nil {
			before = d.VersionNumber
		}
		var err error
		if res, err = mappings.Promote(ctx, tx, f, n, env, reason, editorOf(c), s.deps.Now()); err != nil {
			return err
		}
		after := map[string]any{"environment": env.Name, "version": n, "reason": strings.TrimSpace(reason), "gates": res.Gates}
		if res.Request != nil {
			after["request"] = res.Request.ID
			return account.Audit(ctx, tx, actorOf(c), "promotion.request", "flow", f.Slug, map[string]any{"environment": env.Name, "version": before}, after)
		}
		return account.Audit(ctx, tx, actorOf(c), "promotion.deploy", "flow", f.Slug, map[string]any{"environment": env.Name, "version": before}, after)
	})
	if err != nil {
		// A refused promotion is audited too, with what refused it.
		if fe := toFault(err); fe.Code == fault.Invalid || fe.Code == fault.Conflict {
			_ = account.Audit(ctx, s.deps.DB, actorOf(c), "promotion.refuse", "flow", f.Slug, nil,
				map[string]any{"environment": env.Name, "version": n, "why": fe.Message})
		}
		return res, env, err
	}
	return res, env, nil
}

// fault409 reports a conflict (the environment already runs the version).
func fault409(err error) bool { return err != nil && fault.CodeOf(err) == fault.Conflict }

func toStatus(err error) int { return statusOf[toFault(err).Code] }

package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// releaseActor is who asks, for the release policy: the signed-in user, or
// the API key.
func releaseActor(c *fiber.Ctx) release.Actor {
	if u := userOf(c); u != nil {
		return release.User(*u, c.IP())
	}
	if k := apiKeyOf(c); k != nil {
		return release.Key(*k, c.IP())
	}
	return release.Actor{}
}

// promote runs a promotion for the Promote… and Deploy forms and the API
// alike; release.Promote decides and audits.
func (s *Server) promote(c *fiber.Ctx, slug, to, version, reason string) (release.PromotionResult, release.Environment, error) {
	ctx := c.UserContext()
	env, err := release.EnvironmentByName(ctx, s.deps.DB, to)
	if err != nil {
		return release.PromotionResult{}, env, err
	}
	f, err := mappings.FlowBySlug(ctx, s.deps.DB, slug)
	if err != nil {
		return release.PromotionResult{}, env, err
	}
	n, err := parseVersionNumber("version", version)
	if err != nil {
		return release.PromotionResult{}, env, err
	}
	res, err := release.Promote(ctx, s.deps.DB, releaseActor(c), release.Promotion{Flow: f, Environment: env, Version: n, Reason: reason, Now: s.deps.Now(), Kinds: s.deps.Transports})
	return res, env, err
}

// fault409 reports a conflict (the environment already runs the version).
func fault409(err error) bool { return err != nil && fault.CodeOf(err) == fault.Conflict }

func toStatus(err error) int { return statusOf[toFault(err).Code] }

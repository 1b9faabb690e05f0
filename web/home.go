package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings/release"
)

// home sends people to the part of Crossdock they start their day in:
// support to the inbox, approvers to the promotion requests waiting for
// them (when there are any), everyone else to the flows.
func (s *Server) home() fiber.Handler {
	return func(c *fiber.Ctx) error {
		target := "/flows"
		u := userOf(c)
		switch {
		case u == nil:
		case u.Role == account.RoleSupport:
			target = "/inbox"
		case u.Role == account.RoleApprover:
			waiting, err := release.AwaitingDecisionCount(c.UserContext(), s.deps.DB, releaseActor(c))
			if err != nil {
				return err
			}
			if waiting > 0 {
				target = "/promotions"
			}
		}
		return c.Redirect(target, fiber.StatusSeeOther)
	}
}

// adminHome is the Admin section's landing.
func (s *Server) adminHome() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return c.Redirect("/admin/users", fiber.StatusSeeOther)
	}
}

// notFound answers any browser path no route claimed.
func (s *Server) notFound() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return &fault.Error{Code: fault.NotFound, Message: "there is no page at " + c.Path() + "; check the address or use the navigation"}
	}
}

// apiNotFound answers any API path no route claimed (after authentication,
// so the API's shape is not revealed to anonymous callers).
func (s *Server) apiNotFound() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return &fault.Error{Code: fault.NotFound, Message: "no API operation at " + c.Method() + " " + c.Path() + "; see /api/v1/openapi.json"}
	}
}

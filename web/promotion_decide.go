package web

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings/release"
)

// decide approves or rejects a promotion request, for the page and the
// API; release.Decide decides and audits.
func (s *Server) decide(c *fiber.Ctx, approve bool, comment string) (release.PromotionRequest, *release.Deployment, error) {
	id, err := c.ParamsInt("id")
	if err != nil {
		return release.PromotionRequest{}, nil, err
	}
	return release.Decide(c.UserContext(), s.deps.DB, s.deps.Transports, releaseActor(c), int64(id), approve, comment, s.deps.Now())
}

// promotionDecide is the approve or reject button of a request page.
// Refusals (own request, failing gates, no comment) show the page again
// with the reason.
func (s *Server) promotionDecide(approve bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		r, d, err := s.decide(c, approve, c.FormValue("comment"))
		var refused *release.GatesFailedError
		if code := fault.CodeOf(err); errors.As(err, &refused) || code == fault.Forbidden || code == fault.Invalid || code == fault.Conflict {
			c.Status(toStatus(err))
			return s.renderRequest(c, capitalize(toFault(err).Message)+".")
		}
		if err != nil {
			return err
		}
		if d != nil {
			s.flash(c, fmt.Sprintf("Approved: %s v%d now runs in %s.", r.Flow, d.VersionNumber, r.Environment))
		} else {
			s.flash(c, fmt.Sprintf("Rejected the promotion of %s v%d to %s.", r.Flow, r.VersionNumber, r.Environment))
		}
		return c.Redirect(fmt.Sprintf("/promotions/%d", r.ID), fiber.StatusSeeOther)
	}
}

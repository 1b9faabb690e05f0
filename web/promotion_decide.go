package web

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// decide approves or rejects a promotion request, for the page and the API.
func (s *Server) decide(c *fiber.Ctx, approve bool, comment string) (mappings.PromotionRequest, *mappings.Deployment, error) {
	ctx := c.UserContext()
	id, err := c.ParamsInt("id")
	if err != nil {
		return mappings.PromotionRequest{}, nil, err
	}
	var r mappings.PromotionRequest
	var d *mappings.Deployment
	err = txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
		var err error
		if r, d, err = mappings.PromotionDecide(ctx, tx, int64(id), approve, comment, editorOf(c), s.deps.Now()); err != nil {
			return err
		}
		after := map[string]any{"environment": r.Environment, "version": r.VersionNumber, "status": r.Status, "comment": r.DecisionComment, "requestedBy": r.RequestedByEmail}
		if d != nil {
			after["deployment"] = d.ID
			after["gates"] = d.Gates
		}
		return account.Audit(ctx, tx, actorOf(c), "promotion."+map[bool]string{true: "approve", false: "reject"}[approve], "flow", r.Flow,
			map[string]any{"request": r.ID, "status": mappings.RequestPending}, after)
	})
	return r, d, err
}

// promotionDecide is the approve or reject button of a request page.
// Refusals (own request, failing gates, no comment) show the page again
// with the reason.
func (s *Server) promotionDecide(approve bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		r, d, err := s.decide(c, approve, c.FormValue("comment"))
		var refused *mappings.GatesFailedError
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

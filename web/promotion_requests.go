package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// promotionRequests lists promotion requests, pending first.
func (s *Server) promotionRequests() fiber.Handler {
	return func(c *fiber.Ctx) error {
		list, err := release.PromotionRequestList(c.UserContext(), s.deps.DB, "", 200)
		if err != nil {
			return err
		}
		var v view.PromotionRequestsView
		for _, r := range list {
			v.Rows = append(v.Rows, requestRow(r))
		}
		awaiting, err := release.AwaitingDecision(c.UserContext(), s.deps.DB, releaseActor(c))
		if err != nil {
			return err
		}
		for _, r := range awaiting {
			v.Awaiting = append(v.Awaiting, requestRow(r))
		}
		return s.render(c, view.PromotionRequestsPage(s.page(c, "Promotion requests", "promotions"), v))
	}
}

// promotionRequestShow shows one request with its gates and diff, and the
// decision forms to approvers other than the requester.
func (s *Server) promotionRequestShow() fiber.Handler {
	return func(c *fiber.Ctx) error { return s.renderRequest(c, "") }
}

func (s *Server) renderRequest(c *fiber.Ctx, msg string) error {
	ctx := c.UserContext()
	id, err := c.ParamsInt("id")
	if err != nil {
		return err
	}
	r, err := release.PromotionRequestGet(ctx, s.deps.DB, int64(id))
	if err != nil {
		return err
	}
	v := view.PromotionRequestView{Request: requestRow(r), Gates: gatesView(r.Gates, s.deps.Transports), Error: msg}
	u := userOf(c)
	v.Own = u != nil && (r.RequestedByID != nil && *r.RequestedByID == u.ID || r.RequestedByEmail == u.Email)
	v.CanDecide = u != nil && u.Can(deciders...)
	next, err := mappings.VersionGet(ctx, s.deps.DB, r.FlowID, r.VersionNumber)
	if err != nil {
		return err
	}
	var old *mappings.Version
	if r.FromVersion != nil {
		o, err := mappings.VersionGet(ctx, s.deps.DB, r.FlowID, *r.FromVersion)
		if err != nil {
			return err
		}
		old = &o
	}
	if old != nil {
		v.Diff = diffView(mappings.Diff(old.Definition, next.Definition))
	} else {
		v.Diff = firstDeployment(next.Definition)
	}
	return s.render(c, view.PromotionRequestPage(s.page(c, "Promotion request", "promotions"), v))
}

package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/web/view"
)

// inboxBulk starts an action on the selected exceptions or on a whole
// group, worked by a River job; a second click of the same form finds the
// first action.
func (s *Server) inboxBulk() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		req := inbox.BulkRequest{RequestKey: c.FormValue("request_key"), Action: inbox.BulkActionKind(c.FormValue("action")),
			Reason: c.FormValue("reason"), Version: inbox.VersionChoice(c.FormValue("version")), Actor: actorOf(c)}
		if g := c.FormValue("group"); g != "" {
			gid, err := strconv.ParseInt(g, 10, 64)
			if err != nil {
				return fault.Errorf(fault.Invalid, "group “%s” is not a group id", g)
			}
			grp, err := inbox.GroupGet(ctx, s.deps.DB, gid)
			if err != nil {
				return err
			}
			req.EnvironmentID, req.Fingerprint = grp.EnvironmentID, grp.Fingerprint
		} else {
			for _, raw := range c.Request().PostArgs().PeekMulti("ids") {
				id, err := strconv.ParseInt(string(raw), 10, 64)
				if err != nil {
					return fault.Errorf(fault.Invalid, "“%s” is not an exception id", raw)
				}
				req.ExceptionIDs = append(req.ExceptionIDs, id)
			}
			if len(req.ExceptionIDs) == 0 {
				return fault.Errorf(fault.Invalid, "select at least one exception")
			}
		}
		b, _, err := inbox.BulkStart(ctx, s.deps.DB, s.deps.Queue, req)
		if err != nil {
			return err
		}
		return c.Redirect("/inbox/bulk/"+itoa64(b.ID), fiber.StatusSeeOther)
	}
}

func bulkView(b inbox.BulkAction) view.BulkView {
	v := view.BulkView{ID: b.ID, Action: string(b.Action), Status: b.Status, Total: b.Total, Done: b.Done, Skipped: b.Skipped,
		Failed: b.Failed, By: b.RequestedBy, Finished: b.Status == "done" || b.Status == "failed", BackURL: "/inbox"}
	if b.Total > 0 {
		v.Percent = min(100, 100*(b.Done+b.Skipped+b.Failed)/b.Total)
	}
	if v.Finished {
		v.Percent = 100
	}
	return v
}

// inboxBulkShow shows a bulk action's progress; htmx polls it for the
// progress card alone.
func (s *Server) inboxBulkShow() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := c.ParamsInt("id")
		if err != nil {
			return fault.Errorf(fault.NotFound, "no bulk action “%s”", c.Params("id"))
		}
		b, err := inbox.BulkGet(c.UserContext(), s.deps.DB, int64(id))
		if err != nil {
			return err
		}
		if c.Get("HX-Request") == "true" {
			return s.render(c, view.BulkProgress(bulkView(b)))
		}
		return s.render(c, view.BulkPage(s.page(c, "Bulk action", "inbox"), bulkView(b)))
	}
}

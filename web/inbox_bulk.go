package web

import (
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/web/view"
)

// inboxBulk starts an action on the selected exceptions, on every
// exception matching the list's filters (up to inbox.BulkMaxSelection), or
// on a whole group, worked by a River job; a second click of the same form
// finds the first action. From the page (htmx) a refused request answers
// the form's error fragment, so the selection stays as it was.
func (s *Server) inboxBulk() fiber.Handler {
	return func(c *fiber.Ctx) error {
		b, capped, err := s.startBulk(c)
		if fe, ok := fault.As(err); ok && c.Get("HX-Request") == "true" && (fe.Code == fault.Invalid || fe.Code == fault.Conflict) {
			c.Status(fiber.StatusUnprocessableEntity)
			return s.render(c, view.BulkRefusal(capitalize(fe.Message)+"."))
		}
		if err != nil {
			return err
		}
		if capped {
			s.flash(c, fmt.Sprintf("More than %s exceptions match: this action works on the newest %s; run it again for the rest.",
				groupDigits(inbox.BulkMaxSelection), groupDigits(inbox.BulkMaxSelection)))
		}
		to := "/inbox/bulk/" + itoa64(b.ID)
		if c.Get("HX-Request") == "true" {
			c.Set("HX-Redirect", to)
			return c.SendStatus(fiber.StatusOK)
		}
		return c.Redirect(to, fiber.StatusSeeOther)
	}
}

// startBulk reads the bulk form and starts its action; capped says the
// filters matched more exceptions than one action takes.
func (s *Server) startBulk(c *fiber.Ctx) (inbox.BulkAction, bool, error) {
	ctx := c.UserContext()
	req := inbox.BulkRequest{RequestKey: c.FormValue("request_key"), Action: inbox.BulkActionKind(c.FormValue("action")),
		Reason: c.FormValue("reason"), Version: inbox.VersionChoice(c.FormValue("version")), Actor: actorOf(c)}
	capped := false
	switch {
	case c.FormValue("group") != "":
		g := c.FormValue("group")
		gid, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return inbox.BulkAction{}, false, fault.Errorf(fault.Invalid, "group “%s” is not a group id", g)
		}
		grp, err := inbox.GroupGet(ctx, s.deps.DB, gid)
		if err != nil {
			return inbox.BulkAction{}, false, err
		}
		req.EnvironmentID, req.Fingerprint = grp.EnvironmentID, grp.Fingerprint
	case c.FormValue("all_matching") != "":
		// The list's filters travel as f_<name> fields of the form.
		vf, f, err := s.inboxFilter(c, func(key string) string { return c.FormValue("f_" + key) })
		if err != nil {
			return inbox.BulkAction{}, false, err
		}
		if vf.Group != 0 {
			grp, err := inbox.GroupGet(ctx, s.deps.DB, vf.Group)
			if err != nil {
				return inbox.BulkAction{}, false, err
			}
			f.EnvironmentID, f.Fingerprint = grp.EnvironmentID, grp.Fingerprint
		}
		if req.ExceptionIDs, capped, err = inbox.MatchingIDs(ctx, s.deps.DB, f, inbox.BulkMaxSelection); err != nil {
			return inbox.BulkAction{}, false, err
		}
		if len(req.ExceptionIDs) == 0 {
			return inbox.BulkAction{}, false, fault.Errorf(fault.Invalid, "no exception matches these filters any more; reload the list")
		}
	default:
		for _, raw := range c.Request().PostArgs().PeekMulti("ids") {
			id, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return inbox.BulkAction{}, false, fault.Errorf(fault.Invalid, "“%s” is not an exception id", raw)
			}
			req.ExceptionIDs = append(req.ExceptionIDs, id)
		}
		if len(req.ExceptionIDs) == 0 {
			return inbox.BulkAction{}, false, fault.Errorf(fault.Invalid, "select at least one exception, or all matching the filters")
		}
	}
	b, _, err := inbox.BulkStart(ctx, s.deps.DB, s.deps.Queue, req)
	return b, capped, err
}

// groupDigits writes 10000 as "10,000".
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func bulkView(b inbox.BulkAction) view.BulkView {
	v := view.BulkView{ID: b.ID, Action: string(b.Action), Status: b.Status, Total: b.Total, Done: b.Done, Skipped: b.Skipped,
		Failed: b.Failed, By: b.RequestedBy, Finished: b.Status == "done" || b.Status == "failed", BackURL: "/inbox?view=list"}
	if b.GroupID != 0 {
		v.BackURL = "/inbox?view=list&group=" + itoa64(b.GroupID)
	}
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

package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs"
	"github.com/crossdock/crossdock/web/view"
)

// replayForm reads the replay form: the version choice and the payload
// (nil when the editor holds the original unchanged).
func (s *Server) replayForm(c *fiber.Ctx) (jobs.VersionChoice, []byte, error) {
	payload := []byte(strings.TrimSpace(c.FormValue("payload")))
	if len(payload) > s.cfg.MaxMessageBytes {
		return "", nil, &fault.Error{Code: fault.TooLarge, Message: "the edited payload is larger than a message may be"}
	}
	if len(payload) == 0 {
		payload = nil
	}
	return jobs.VersionChoice(c.FormValue("version")), payload, nil
}

// inboxReplay replays an exception's message as a new revision on the
// chosen version, with the payload as edited.
func (s *Server) inboxReplay() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		version, payload, err := s.replayForm(c)
		if err != nil {
			return err
		}
		var newID uuid.UUID
		if err := s.inTx(c, func(tx pgx.Tx) error {
			var err error
			newID, err = jobs.ExceptionReplay(c.UserContext(), tx, s.deps.Queue, jobs.ReplayRequest{ExceptionID: id, Version: version,
				Payload: payload, Reason: c.FormValue("reason"), Actor: actorOf(c)})
			return err
		}); err != nil {
			return err
		}
		s.flash(c, "Replayed as a new revision; this is its story.")
		return c.Redirect("/messages/"+newID.String(), fiber.StatusSeeOther)
	}
}

// inboxPreview shows, without sending anything, what a replay on the
// chosen version with the edited payload would send next to what the
// version that ran made of the original.
func (s *Server) inboxPreview() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		version, payload, err := s.replayForm(c)
		if err != nil {
			return err
		}
		p, err := jobs.PreviewReplay(c.UserContext(), s.deps.DB, id, version, payload)
		var v view.ReplayPreviewView
		switch fe, ok := fault.As(err); {
		case err == nil:
			v = view.ReplayPreviewView{VersionRan: p.VersionRan, VersionChosen: p.VersionChosen, PayloadDiff: p.PayloadDiff, Problems: p.Problems}
			for _, r := range p.Routes {
				v.Routes = append(v.Routes, view.RoutePreviewView{Route: r.Route, Target: r.Target, Changed: r.Changed, Diff: r.Diff, After: r.After})
			}
		case ok && (fe.Code == fault.Invalid || fe.Code == fault.Conflict):
			c.Status(statusOf[fe.Code])
			v.Error = capitalize(fe.Message) + "."
		default:
			return err
		}
		if c.Get("HX-Request") == "true" {
			return s.render(c, view.ReplayPreview(v))
		}
		ev, err := s.exceptionView(c, id)
		if err != nil {
			return err
		}
		ev.Preview = &v
		if payload != nil {
			ev.EditPayload = string(payload)
		}
		return s.render(c, view.ExceptionPage(s.page(c, "Exception #"+itoa64(id), "inbox"), ev))
	}
}

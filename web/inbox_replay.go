package web

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// Replaying on the draft publishes it as the flow's next version (a
// message always runs an immutable numbered version) and then replays on
// that version. So it takes two rights: acting on exceptions (support,
// admin) and publishing (analyst, admin) — for people, admins; for API
// keys, the support and the manage permission together. A support person
// previews the draft and hands over to an analyst, who publishes and
// deploys it; then the replay runs on the deployed version. In a protected
// environment nobody sends on the draft: versions reach it by promotion.

// mayPublish says whether the request may publish flow.
func mayPublish(c *fiber.Ctx, flow string) bool {
	if canEditFlows(c) {
		return true
	}
	k := apiKeyOf(c)
	return userOf(c) == nil && k != nil && k.CanManage && k.AllowsFlow(flow)
}

// draftRefusal says why this request cannot send on the draft of the
// exception's flow, or "" when it can.
func draftRefusal(c *fiber.Ctx, env string, protected bool, flow string) string {
	if protected {
		return fmt.Sprintf("%s is a protected environment, so a draft never runs there: versions arrive by promotion, with its gates and approval. Publish the draft, promote it to %s, then replay on the deployed version.", env, env)
	}
	if !mayPublish(c, flow) {
		return fmt.Sprintf("Replaying on the draft publishes it as the next version, and publishing is for analysts and admins (or an API key with the manage permission). Ask an analyst to publish and deploy it to %s, then replay on the deployed version; or an admin can replay on the draft.", env)
	}
	return ""
}

// checkDraftReplay refuses a replay on the draft the request may not make,
// before anything is locked or published.
func (s *Server) checkDraftReplay(c *fiber.Ctx, it inbox.Item) error {
	env, err := release.EnvironmentByID(c.UserContext(), s.deps.DB, it.EnvironmentID)
	if err != nil {
		return err
	}
	why := draftRefusal(c, env.Name, env.Protected, it.FlowSlug)
	switch {
	case why == "":
		return nil
	case env.Protected:
		return &fault.Error{Code: fault.Conflict, Message: strings.TrimSuffix(why, ".")}
	}
	return &fault.Error{Code: fault.Forbidden, Message: strings.TrimSuffix(why, ".")}
}

// replayForm reads the replay form: the version choice, the payload (nil
// when the editor holds the original unchanged) and the draft revision the
// preview showed (a hidden field the preview of the draft adds).
func (s *Server) replayForm(c *fiber.Ctx) (inbox.VersionChoice, []byte, int, error) {
	payload := []byte(strings.TrimSpace(c.FormValue("payload")))
	if len(payload) > s.cfg.MaxMessageBytes {
		return "", nil, 0, &fault.Error{Code: fault.TooLarge, Message: "the edited payload is larger than a message may be"}
	}
	if len(payload) == 0 {
		payload = nil
	}
	rev, _ := strconv.Atoi(c.FormValue("draft_revision"))
	return inbox.VersionChoice(c.FormValue("version")), payload, rev, nil
}

// inboxReplay replays an exception's message as a new revision on the
// chosen version, with the payload as edited.
func (s *Server) inboxReplay() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		version, payload, rev, err := s.replayForm(c)
		if err != nil {
			return err
		}
		if version == inbox.VersionDraft {
			it, err := inbox.ExceptionGet(c.UserContext(), s.deps.DB, id)
			if err != nil {
				return err
			}
			if err := s.checkDraftReplay(c, it); err != nil {
				return err
			}
		}
		var newID uuid.UUID
		if err := s.inTx(c, func(tx pgx.Tx) error {
			var err error
			newID, err = inbox.ExceptionReplay(c.UserContext(), tx, s.deps.Queue, inbox.ReplayRequest{ExceptionID: id, Version: version,
				Payload: payload, Reason: c.FormValue("reason"), Actor: actorOf(c), DraftRevision: rev})
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
		version, payload, _, err := s.replayForm(c)
		if err != nil {
			return err
		}
		p, err := inbox.PreviewReplay(c.UserContext(), s.deps.DB, id, version, payload)
		var v view.ReplayPreviewView
		switch fe, ok := fault.As(err); {
		case err == nil:
			v = view.ReplayPreviewView{VersionRan: p.VersionRan, VersionChosen: p.VersionChosen, PayloadDiff: p.PayloadDiff, Problems: p.Problems}
			for _, r := range p.Routes {
				v.Routes = append(v.Routes, view.RoutePreviewView{Route: r.Route, Target: r.Target, Changed: r.Changed, Diff: r.Diff, After: r.After})
			}
			if p.Draft != nil {
				it, err := inbox.ExceptionGet(c.UserContext(), s.deps.DB, id)
				if err != nil {
					return err
				}
				v.Draft = draftPreview(c, id, it.FlowSlug, *p.Draft)
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

// draftPreview says what replaying on the draft would do, or why this
// person cannot. Only a sendable preview carries the draft revision, so
// the replay publishes exactly the draft that was previewed.
func draftPreview(c *fiber.Ctx, exceptionID int64, flow string, d inbox.DraftReplay) *view.DraftReplayView {
	if why := draftRefusal(c, d.Environment, d.Protected, flow); why != "" {
		return &view.DraftReplayView{Note: "Preview only. " + why}
	}
	note := fmt.Sprintf("Replay publishes draft revision %d of %s as version %d (noted “published to replay exception #%d”, in the audit log under your name), then replays this message on v%d. The deployment in %s does not change: only this message runs v%d.",
		d.Revision, flow, d.Publishes, exceptionID, d.Publishes, d.Environment, d.Publishes)
	if d.SameAs != 0 {
		note = fmt.Sprintf("The draft is identical to version %d: Replay runs this message on v%d and publishes nothing.", d.SameAs, d.SameAs)
	}
	return &view.DraftReplayView{Note: note, Revision: d.Revision}
}

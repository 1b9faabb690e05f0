package web

import (
	"sort"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// inboxShow shows one exception: the error (with the failing expression
// and a caret for mapping errors), the message's lineage, payload,
// deliveries and attempts, related messages, revisions, history, and the
// actions the user's role allows.
func (s *Server) inboxShow() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		v, err := s.exceptionView(c, id)
		if err != nil {
			return err
		}
		return s.render(c, view.ExceptionPage(s.page(c, "Exception #"+itoa64(id), "inbox"), v))
	}
}

func (s *Server) exceptionView(c *fiber.Ctx, id int64) (view.ExceptionView, error) {
	ctx := c.UserContext()
	db := s.deps.DB
	it, err := inbox.ExceptionGet(ctx, db, id)
	if err != nil {
		return view.ExceptionView{}, err
	}
	mv, err := store.MessageGet(ctx, db, it.MessageID)
	if err != nil {
		return view.ExceptionView{}, err
	}
	u := userOf(c)
	v := view.ExceptionView{
		ID: it.ID, Kind: string(it.Kind), Status: string(it.Status), Stage: it.Stage, ErrorClass: it.ErrorClass, Error: it.Message, Step: it.Step,
		Resolution: it.Resolution, Env: it.Environment, Flow: it.FlowSlug, Version: it.VersionNumber, Assignee: it.AssigneeEmail,
		Created: stamp(it.CreatedAt), Updated: stamp(it.UpdatedAt), GroupURL: "/inbox?view=list&group=" + itoa64(it.GroupID),
		GroupOpen: it.GroupOpen, Open: it.Status == store.ExceptionOpen || it.Status == store.ExceptionAssigned,
		CanAct: canTriage(c), CanEditLookups: u != nil && (u.Role == account.RoleAnalyst || u.Role == account.RoleAdmin),
		Message: messageView(mv), EditPayload: prettyJSON(mv.Message.Payload),
	}
	v.Message.CanSaveSample = canEditFlows(c)
	heads, err := inbox.RequestHeaders(ctx, db, s.deps.Transports, it.EnvironmentID, it.CorrelationID, mv.Deliveries)
	if err != nil {
		return view.ExceptionView{}, err
	}
	for i, d := range mv.Deliveries {
		for k, val := range heads[d.ID] {
			v.Message.Deliveries[i].RequestHead = append(v.Message.Deliveries[i].RequestHead, k+": "+val)
		}
		sort.Strings(v.Message.Deliveries[i].RequestHead)
	}
	if v.CanAct {
		env, err := release.EnvironmentByID(ctx, db, it.EnvironmentID)
		if err != nil {
			return v, err
		}
		v.DraftRefusal = draftRefusal(c, env.Name, env.Protected, it.FlowSlug)
	}
	if v.Assignee == "" {
		v.Assignee = "nobody"
	}
	if u != nil {
		v.MeID = u.ID
	}
	if v.CanAct {
		users, err := s.triageUsers(c)
		if err != nil {
			return v, err
		}
		for _, tu := range users {
			v.Assignees = append(v.Assignees, view.Option{Value: itoa64(tu.ID), Label: tu.Email})
		}
	}
	exprs, err := inbox.MappingErrors(ctx, db, it)
	if err != nil {
		return v, err
	}
	for _, x := range exprs {
		v.Expressions = append(v.Expressions, view.ExpressionErrorView{Where: x.Where, Message: x.Message, Expression: x.Expression, Caret: x.Caret})
	}
	if uv, ok := inbox.UnmappedLookup(it.Exception); ok {
		v.UnmappedTable, v.UnmappedKey = uv.Table, uv.Key
		v.LookupURL = "/flows/" + it.FlowSlug + "/lookups/" + uv.Table
	}
	related, err := store.MessagesByCorrelationID(ctx, db, it.CorrelationID)
	if err != nil {
		return v, err
	}
	for _, m := range related {
		v.Related = append(v.Related, view.RelatedView{ID: m.ID.String(), Status: string(m.Status), Received: stamp(m.ReceivedAt), Current: m.ID == it.MessageID})
	}
	revs, err := inbox.RevisionsOf(ctx, db, it.MessageID)
	if err != nil {
		return v, err
	}
	for _, r := range revs {
		v.Revisions = append(v.Revisions, view.RevisionView{MessageID: r.MessageID.String(), Revision: r.Revision, Version: r.VersionNumber,
			Edited: r.Edited, Diff: r.Diff, Reason: r.Reason, By: r.CreatedBy, At: stamp(r.CreatedAt), Current: r.MessageID == it.MessageID})
	}
	hist, err := inbox.ExceptionHistory(ctx, db, id)
	if err != nil {
		return v, err
	}
	people := map[int64]string{}
	if len(hist) > 0 {
		users, err := account.UserList(ctx, db)
		if err != nil {
			return v, err
		}
		for _, u := range users {
			people[u.ID] = personName(u.Name, u.Email)
		}
	}
	for _, h := range hist {
		ev := view.ExceptionEventView{At: stamp(h.At), Actor: h.Actor, Action: h.Action,
			Before: prettyJSON([]byte(h.Before)), After: prettyJSON([]byte(h.After)), Body: h.Body}
		ev.Sentence, ev.Links = historySentence(h.Action, []byte(h.After), people)
		v.History = append(v.History, ev)
	}
	return v, nil
}

package web

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// ExceptionDetailJSON is GET /api/v1/exceptions/{id}: the exception, the
// failing expressions of a mapping error, an unmapped lookup value, and
// its history.
type ExceptionDetailJSON struct {
	Exception   inbox.Item              `json:"exception"`
	Expressions []inbox.ExpressionError `json:"expressions"`
	Unmapped    *inbox.UnmappedValue    `json:"unmapped,omitempty"`
	History     []inbox.HistoryEntry    `json:"history"`
	MessageURL  string                  `json:"messageUrl"`
}

// apiInboxQuery reads the inbox filters of an API call. An API key's
// listing is narrowed to its environment (and its flow, when it is limited
// to one); naming another environment or flow is Forbidden, so a script
// learns at once that its key cannot see what it asked for.
func (s *Server) apiInboxQuery(c *fiber.Ctx) (inbox.Filter, error) {
	_, f, err := s.inboxQuery(c)
	if err != nil {
		return f, err
	}
	key := apiKeyOf(c)
	if key == nil || userOf(c) != nil {
		return f, nil
	}
	ctx := c.UserContext()
	env, flow := c.Query("env"), c.Query("flow")
	if env != "" && env != key.Environment {
		return f, fault.Errorf(fault.Forbidden, "the API key %s sees only the exceptions of environment %s, not %s", key.Prefix, key.Environment, env)
	}
	if env == "" {
		e, err := release.EnvironmentByName(ctx, s.deps.DB, key.Environment)
		if err != nil {
			return f, err
		}
		f.EnvironmentID = e.ID
	}
	switch {
	case flow != "" && !key.AllowsFlow(flow):
		return f, fault.Errorf(fault.Forbidden, "the API key %s sees only the flows %s, not %s", key.Prefix, strings.Join(key.Flows, ", "), flow)
	case flow == "" && len(key.Flows) == 1:
		fl, err := mappings.FlowBySlug(ctx, s.deps.DB, key.Flows[0])
		if err != nil {
			return f, err
		}
		f.FlowID = fl.ID
	case flow == "" && len(key.Flows) > 1:
		return f, fault.Errorf(fault.Invalid, "the API key %s is limited to the flows %s; name one with flow=", key.Prefix, strings.Join(key.Flows, ", "))
	}
	return f, nil
}

// exceptionInScope returns exception id if the caller may see it; outside
// an API key's environment or flows it does not exist, as far as the key
// can tell (NotFound, never Forbidden, so ids elsewhere are not confirmed).
func (s *Server) exceptionInScope(c *fiber.Ctx) (inbox.Item, error) {
	id, err := exceptionID(c)
	if err != nil {
		return inbox.Item{}, err
	}
	it, err := inbox.ExceptionGet(c.UserContext(), s.deps.DB, id)
	if err != nil {
		return inbox.Item{}, err
	}
	if !keyMaySee(c, it.Environment, it.FlowSlug) {
		return inbox.Item{}, fault.Errorf(fault.NotFound, "no exception %d", id)
	}
	return it, nil
}

// apiExceptionList lists exceptions newest first with the inbox's filters;
// next is the cursor for ?before= (absent on the last page).
func (s *Server) apiExceptionList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.apiInboxQuery(c)
		if err != nil {
			return err
		}
		f.Fingerprint = c.Query("fingerprint")
		if l := c.QueryInt("limit"); l > 0 {
			f.Limit = l
		}
		items, next, err := inbox.List(c.UserContext(), s.deps.DB, f)
		if err != nil {
			return err
		}
		out := fiber.Map{"items": nonNil(items)}
		if next != 0 {
			out["next"] = strconv.FormatInt(next, 10)
		}
		return c.JSON(out)
	}
}

func (s *Server) apiExceptionGet() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		it, err := s.exceptionInScope(c)
		if err != nil {
			return err
		}
		id := it.ID
		d := ExceptionDetailJSON{Exception: it, MessageURL: intake.StatusURL(it.MessageID)}
		if d.Expressions, err = inbox.MappingErrors(ctx, s.deps.DB, it); err != nil {
			return err
		}
		if uv, ok := inbox.UnmappedLookup(it.Exception); ok {
			d.Unmapped = &uv
		}
		if d.History, err = inbox.ExceptionHistory(ctx, s.deps.DB, id); err != nil {
			return err
		}
		d.Expressions, d.History = nonNil(d.Expressions), nonNil(d.History)
		return c.JSON(d)
	}
}

// apiGroupList lists exception groups most recently seen first; next is
// the cursor, passed back as ?before=.
func (s *Server) apiGroupList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.apiInboxQuery(c)
		if err != nil {
			return err
		}
		gf := inbox.GroupFilter{EnvironmentID: f.EnvironmentID, FlowID: f.FlowID, Kind: f.Kind, All: c.QueryBool("all"), Limit: c.QueryInt("limit")}
		if b := c.Query("before"); b != "" {
			var cur inbox.GroupCursor
			if err := json.Unmarshal([]byte(b), &cur); err != nil {
				return fault.Errorf(fault.Invalid, "before must be the next value of the previous page")
			}
			gf.BeforeLastSeen, gf.BeforeID = cur.LastSeen, cur.ID
		}
		groups, next, err := inbox.GroupList(c.UserContext(), s.deps.DB, gf)
		if err != nil {
			return err
		}
		out := fiber.Map{"items": nonNil(groups)}
		if next != nil {
			b, _ := json.Marshal(next)
			out["next"] = string(b)
		}
		return c.JSON(out)
	}
}

func (s *Server) apiGroupGet() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := c.ParamsInt("id")
		if err != nil {
			return fault.Errorf(fault.NotFound, "no exception group “%s”", c.Params("id"))
		}
		g, err := s.groupInScope(c, int64(id))
		if err != nil {
			return err
		}
		return c.JSON(g)
	}
}

// groupInScope returns exception group id if the caller may see it; like
// an exception, one outside an API key's scope does not exist for it.
func (s *Server) groupInScope(c *fiber.Ctx, id int64) (inbox.ExceptionGroup, error) {
	g, err := inbox.GroupGet(c.UserContext(), s.deps.DB, id)
	if err != nil {
		return g, err
	}
	if !keyMaySee(c, g.Environment, g.FlowSlug) {
		return inbox.ExceptionGroup{}, fault.Errorf(fault.NotFound, "no exception group %d", id)
	}
	return g, nil
}

// exceptionsOutOfScope returns those of ids that do not exist or that the
// caller may not see, in the order given.
func (s *Server) exceptionsOutOfScope(c *fiber.Ctx, ids []int64) ([]int64, error) {
	scopes, err := inbox.ExceptionScopes(c.UserContext(), s.deps.DB, ids)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, id := range ids {
		if sc, ok := scopes[id]; !ok || !keyMaySee(c, sc.Environment, sc.Flow) {
			out = append(out, id)
		}
	}
	return out, nil
}

// apiBody decodes a JSON request body (an empty body is {}).
func apiBody(c *fiber.Ctx, v any) error {
	if len(c.Body()) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.Body(), v); err != nil {
		return fault.Errorf(fault.Invalid, "the body must be a JSON object: %v", err)
	}
	return nil
}

// apiExceptionAfter answers an action with the exception as it is now.
func (s *Server) apiExceptionAfter(c *fiber.Ctx, id int64, status int) error {
	it, err := inbox.ExceptionGet(c.UserContext(), s.deps.DB, id)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(it)
}

func (s *Server) apiExceptionRetry() fiber.Handler {
	return func(c *fiber.Ctx) error {
		it, err := s.exceptionInScope(c)
		if err != nil {
			return err
		}
		id := it.ID
		if err := s.inTx(c, func(tx pgx.Tx) error {
			return inbox.ExceptionRetry(c.UserContext(), tx, s.deps.Queue, id, actorOf(c))
		}); err != nil {
			return err
		}
		return s.apiExceptionAfter(c, id, fiber.StatusAccepted)
	}
}

// replayBody is the body of a replay and of its preview.
type replayBody struct {
	Version       inbox.VersionChoice `json:"version"`
	Payload       json.RawMessage     `json:"payload"`
	Reason        string              `json:"reason"`
	DraftRevision int                 `json:"draftRevision"`
}

// apiReplayBody reads a replay's body and its edited payload (nil when
// none was sent: the original).
func (s *Server) apiReplayBody(c *fiber.Ctx) (replayBody, []byte, error) {
	var body replayBody
	if err := apiBody(c, &body); err != nil {
		return body, nil, err
	}
	var payload []byte
	if len(body.Payload) > 0 && string(body.Payload) != "null" {
		payload = body.Payload
		// A payload sent as a JSON string is the document's text (an
		// editor's content), checked as JSON on its own.
		var text string
		if json.Unmarshal(body.Payload, &text) == nil {
			payload = []byte(text)
		}
	}
	if len(payload) > s.cfg.MaxMessageBytes {
		return body, nil, &fault.Error{Code: fault.TooLarge, Message: "the edited payload is larger than a message may be"}
	}
	return body, payload, nil
}

func (s *Server) apiExceptionReplay() fiber.Handler {
	return func(c *fiber.Ctx) error {
		it, err := s.exceptionInScope(c)
		if err != nil {
			return err
		}
		id := it.ID
		body, payload, err := s.apiReplayBody(c)
		if err != nil {
			return err
		}
		if body.Version == inbox.VersionDraft {
			if err := s.checkDraftReplay(c, it); err != nil {
				return err
			}
		}
		var newID uuid.UUID
		if err := s.inTx(c, func(tx pgx.Tx) error {
			var err error
			newID, err = inbox.ExceptionReplay(c.UserContext(), tx, s.deps.Queue, inbox.ReplayRequest{ExceptionID: id, Version: body.Version,
				Payload: payload, Reason: body.Reason, Actor: actorOf(c), DraftRevision: body.DraftRevision})
			return err
		}); err != nil {
			return err
		}
		c.Location(intake.StatusURL(newID))
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"messageId": newID, "statusUrl": intake.StatusURL(newID)})
	}
}

// apiReplayPreview is a replay preview as the API answers it: for the
// draft, also whether this caller may send it and, if not, why.
type apiReplayPreview struct {
	inbox.ReplayPreview
	DraftRefusal string `json:"draftRefusal,omitempty"`
}

// apiExceptionReplayPreview answers what a replay with the same body would
// send, route by route, next to what the version that ran made of the
// original; nothing is written, published or sent. For the draft it
// carries the revision a replay must name, so a script previews, reads the
// differences, then replays exactly what it saw.
func (s *Server) apiExceptionReplayPreview() fiber.Handler {
	return func(c *fiber.Ctx) error {
		it, err := s.exceptionInScope(c)
		if err != nil {
			return err
		}
		body, payload, err := s.apiReplayBody(c)
		if err != nil {
			return err
		}
		p, err := inbox.PreviewReplay(c.UserContext(), s.deps.DB, it.ID, body.Version, payload)
		if err != nil {
			return err
		}
		out := apiReplayPreview{ReplayPreview: p}
		if p.Draft != nil {
			out.DraftRefusal = draftRefusal(c, p.Draft.Environment, p.Draft.Protected, it.FlowSlug)
		}
		return c.JSON(out)
	}
}

func (s *Server) apiExceptionClose(to store.ExceptionStatus) fiber.Handler {
	return func(c *fiber.Ctx) error {
		it, err := s.exceptionInScope(c)
		if err != nil {
			return err
		}
		id := it.ID
		var body struct {
			Reason string `json:"reason"`
		}
		if err := apiBody(c, &body); err != nil {
			return err
		}
		if err := s.inTx(c, func(tx pgx.Tx) error {
			if to == store.ExceptionIgnored {
				return inbox.ExceptionIgnore(c.UserContext(), tx, s.deps.Queue, id, body.Reason, actorOf(c))
			}
			return inbox.ExceptionResolve(c.UserContext(), tx, s.deps.Queue, id, body.Reason, actorOf(c))
		}); err != nil {
			return err
		}
		return s.apiExceptionAfter(c, id, fiber.StatusOK)
	}
}

func (s *Server) apiExceptionAssign() fiber.Handler {
	return func(c *fiber.Ctx) error {
		it, err := s.exceptionInScope(c)
		if err != nil {
			return err
		}
		id := it.ID
		var body struct {
			UserID *int64 `json:"userId"`
		}
		if err := apiBody(c, &body); err != nil {
			return err
		}
		to := int64(0)
		if body.UserID != nil {
			to = *body.UserID
		}
		if err := s.inTx(c, func(tx pgx.Tx) error { return inbox.ExceptionAssign(c.UserContext(), tx, id, to, actorOf(c)) }); err != nil {
			return err
		}
		return s.apiExceptionAfter(c, id, fiber.StatusOK)
	}
}

package web

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs"
	"github.com/crossdock/crossdock/mappings"
)

// ExceptionDetailJSON is GET /api/v1/exceptions/{id}: the exception, the
// failing expressions of a mapping error, an unmapped lookup value, and
// its history.
type ExceptionDetailJSON struct {
	Exception   jobs.InboxItem         `json:"exception"`
	Expressions []jobs.ExpressionError `json:"expressions"`
	Unmapped    *jobs.UnmappedValue    `json:"unmapped,omitempty"`
	History     []jobs.HistoryEntry    `json:"history"`
	MessageURL  string                 `json:"messageUrl"`
}

// apiExceptionList lists exceptions newest first with the inbox's filters;
// next is the cursor for ?before= (absent on the last page).
func (s *Server) apiExceptionList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		_, f, err := s.inboxQuery(c)
		if err != nil {
			return err
		}
		if err := s.scopeToKey(c, &f); err != nil {
			return err
		}
		f.Fingerprint = c.Query("fingerprint")
		if l := c.QueryInt("limit"); l > 0 {
			f.Limit = l
		}
		items, next, err := jobs.InboxList(c.UserContext(), s.deps.DB, f)
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
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		it, err := jobs.ExceptionGet(ctx, s.deps.DB, id)
		if err != nil {
			return err
		}
		if !keyMayRead(c, it.Environment, it.FlowSlug) {
			return fault.Errorf(fault.NotFound, "no exception %d", id)
		}
		d := ExceptionDetailJSON{Exception: it, MessageURL: jobs.StatusURL(it.MessageID)}
		if d.Expressions, err = jobs.MappingErrors(ctx, s.deps.DB, it); err != nil {
			return err
		}
		if uv, ok := jobs.UnmappedLookup(it.Exception); ok {
			d.Unmapped = &uv
		}
		if d.History, err = jobs.ExceptionHistory(ctx, s.deps.DB, id); err != nil {
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
		_, f, err := s.inboxQuery(c)
		if err != nil {
			return err
		}
		if err := s.scopeToKey(c, &f); err != nil {
			return err
		}
		gf := jobs.GroupFilter{EnvironmentID: f.EnvironmentID, FlowID: f.FlowID, Kind: f.Kind, All: c.QueryBool("all"), Limit: c.QueryInt("limit")}
		if b := c.Query("before"); b != "" {
			var cur jobs.GroupCursor
			if err := json.Unmarshal([]byte(b), &cur); err != nil {
				return fault.Errorf(fault.Invalid, "before must be the next value of the previous page")
			}
			gf.BeforeLastSeen, gf.BeforeID = cur.LastSeen, cur.ID
		}
		groups, next, err := jobs.GroupList(c.UserContext(), s.deps.DB, gf)
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
		g, err := jobs.GroupGet(c.UserContext(), s.deps.DB, int64(id))
		if err != nil {
			return err
		}
		if !keyMayRead(c, g.Environment, g.FlowSlug) {
			return fault.Errorf(fault.NotFound, "no exception group %d", id)
		}
		return c.JSON(g)
	}
}

// scopeToKey confines an API key's exception reads to its environment and
// flows, as the message API does: exceptions carry the payload's values in
// their errors, and a dev key must not read prod's. People see every
// environment.
func (s *Server) scopeToKey(c *fiber.Ctx, f *jobs.InboxFilter) error {
	key := apiKeyOf(c)
	if key == nil || userOf(c) != nil {
		return nil
	}
	ctx := c.UserContext()
	if env := c.Query("env"); env != "" && env != key.Environment {
		return fault.Errorf(fault.Forbidden, "the API key %s reads only environment %s, not %s", key.Prefix, key.Environment, env)
	}
	env, err := mappings.EnvironmentByName(ctx, s.deps.DB, key.Environment)
	if err != nil {
		return err
	}
	f.EnvironmentID = env.ID
	flow := c.Query("flow")
	switch {
	case flow != "" && !key.AllowsFlow(flow):
		return fault.Errorf(fault.Forbidden, "the API key %s reads only the flows %s, not %s", key.Prefix, strings.Join(key.Flows, ", "), flow)
	case flow == "" && len(key.Flows) > 1:
		return fault.Errorf(fault.Invalid, "the API key %s is limited to the flows %s; name one with flow=", key.Prefix, strings.Join(key.Flows, ", "))
	case flow == "" && len(key.Flows) == 1:
		fl, err := mappings.FlowBySlug(ctx, s.deps.DB, key.Flows[0])
		if err != nil {
			return err
		}
		f.FlowID = fl.ID
	}
	return nil
}

// keyMayRead says whether the caller may read an object of env and flow: a
// person always, an API key within its scope.
func keyMayRead(c *fiber.Ctx, env, flow string) bool {
	key := apiKeyOf(c)
	if key == nil || userOf(c) != nil {
		return true
	}
	return env == key.Environment && key.AllowsFlow(flow)
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
	it, err := jobs.ExceptionGet(c.UserContext(), s.deps.DB, id)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(it)
}

func (s *Server) apiExceptionRetry() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		if err := s.inTx(c, func(tx pgx.Tx) error {
			return jobs.ExceptionRetry(c.UserContext(), tx, s.deps.Queue, id, actorOf(c))
		}); err != nil {
			return err
		}
		return s.apiExceptionAfter(c, id, fiber.StatusAccepted)
	}
}

func (s *Server) apiExceptionReplay() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		var body struct {
			Version jobs.VersionChoice `json:"version"`
			Payload json.RawMessage    `json:"payload"`
			Reason  string             `json:"reason"`
		}
		if err := apiBody(c, &body); err != nil {
			return err
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
			return &fault.Error{Code: fault.TooLarge, Message: "the edited payload is larger than a message may be"}
		}
		var newID uuid.UUID
		if err := s.inTx(c, func(tx pgx.Tx) error {
			var err error
			newID, err = jobs.ExceptionReplay(c.UserContext(), tx, s.deps.Queue, jobs.ReplayRequest{ExceptionID: id, Version: body.Version,
				Payload: payload, Reason: body.Reason, Actor: actorOf(c)})
			return err
		}); err != nil {
			return err
		}
		c.Location(jobs.StatusURL(newID))
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"messageId": newID, "statusUrl": jobs.StatusURL(newID)})
	}
}

func (s *Server) apiExceptionClose(to jobs.ExceptionStatus) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
		var body struct {
			Reason string `json:"reason"`
		}
		if err := apiBody(c, &body); err != nil {
			return err
		}
		if err := s.inTx(c, func(tx pgx.Tx) error {
			if to == jobs.ExceptionIgnored {
				return jobs.ExceptionIgnore(c.UserContext(), tx, id, body.Reason, actorOf(c))
			}
			return jobs.ExceptionResolve(c.UserContext(), tx, id, body.Reason, actorOf(c))
		}); err != nil {
			return err
		}
		return s.apiExceptionAfter(c, id, fiber.StatusOK)
	}
}

func (s *Server) apiExceptionAssign() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := exceptionID(c)
		if err != nil {
			return err
		}
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
		if err := s.inTx(c, func(tx pgx.Tx) error { return jobs.ExceptionAssign(c.UserContext(), tx, id, to, actorOf(c)) }); err != nil {
			return err
		}
		return s.apiExceptionAfter(c, id, fiber.StatusOK)
	}
}

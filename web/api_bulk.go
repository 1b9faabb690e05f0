package web

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/inbox"
)

// bulkBody is POST /api/v1/bulk-actions: an action on a whole group or on
// a selection of exceptions.
type bulkBody struct {
	Action       inbox.BulkActionKind `json:"action"`
	Group        int64                `json:"group"`
	ExceptionIDs []int64              `json:"exceptionIds"`
	Reason       string               `json:"reason"`
	Version      inbox.VersionChoice  `json:"version"`
}

// apiBulkStart starts a bulk action, worked by a River job as the inbox's
// are. An Idempotency-Key makes a retried request find the first action
// (200, Idempotent-Replayed) instead of starting another; so does asking
// for the same action on a group while one runs. An API key acts only on
// its own environment's (and flows') exceptions: anything else does not
// exist for it.
func (s *Server) apiBulkStart() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		var body bulkBody
		if err := apiBody(c, &body); err != nil {
			return err
		}
		actor := actorOf(c)
		key := strings.TrimSpace(c.Get("Idempotency-Key"))
		if len(key) > 255 {
			return fault.Errorf(fault.Invalid, "the Idempotency-Key is longer than 255 characters")
		}
		if key == "" {
			key = uuid.NewString()
		}
		// Namespaced by the caller, so one caller's key never finds
		// another's action (nor a form token of the inbox's).
		req := inbox.BulkRequest{RequestKey: "api " + actor.Email + " " + key, Action: body.Action, Reason: body.Reason,
			Version: body.Version, Actor: actor}
		switch {
		case body.Group != 0 && len(body.ExceptionIDs) > 0:
			return fault.Errorf(fault.Invalid, "name a group or exceptionIds, not both")
		case body.Group != 0:
			g, err := s.groupInScope(c, body.Group)
			if err != nil {
				return err
			}
			req.EnvironmentID, req.Fingerprint = g.EnvironmentID, g.Fingerprint
		case len(body.ExceptionIDs) > 0:
			if err := inbox.CheckBulkSelection(body.ExceptionIDs); err != nil {
				return err
			}
			missing, err := s.exceptionsOutOfScope(c, body.ExceptionIDs)
			if err != nil {
				return err
			}
			if len(missing) > 0 {
				names := make([]string, 0, 11)
				for _, id := range missing[:min(len(missing), 10)] {
					names = append(names, fmt.Sprint(id))
				}
				if len(missing) > 10 {
					names = append(names, "…")
				}
				return fault.Errorf(fault.NotFound, "no exception %s: nothing was started", strings.Join(names, ", "))
			}
			req.ExceptionIDs = body.ExceptionIDs
		default:
			return &fault.Error{Code: fault.Invalid, Message: "name a group (its id) or exceptionIds to act on",
				Fields: map[string]string{"group": "required without exceptionIds"}}
		}
		b, created, err := inbox.BulkStart(ctx, s.deps.DB, s.deps.Queue, req)
		if err != nil {
			return err
		}
		c.Location(fmt.Sprintf("/api/v1/bulk-actions/%d", b.ID))
		if !created {
			c.Set("Idempotent-Replayed", "true")
			return c.JSON(b)
		}
		return c.Status(fiber.StatusAccepted).JSON(b)
	}
}

// apiBulkGet answers a bulk action's progress. An API key sees the actions
// it started and those whose exceptions are all within its scope (a group
// in its environment, or a selection of its environment's exceptions);
// others do not exist for it.
func (s *Server) apiBulkGet() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		id, err := c.ParamsInt("id")
		if err != nil {
			return fault.Errorf(fault.NotFound, "no bulk action “%s”", c.Params("id"))
		}
		b, err := inbox.BulkGet(ctx, s.deps.DB, int64(id))
		if err != nil {
			return err
		}
		if k := apiKeyOf(c); k != nil && userOf(c) == nil && b.RequestedBy != "apikey "+k.Prefix {
			visible, err := s.bulkInKeyScope(c, b)
			if err != nil {
				return err
			}
			if !visible {
				return fault.Errorf(fault.NotFound, "no bulk action %d", id)
			}
		}
		return c.JSON(b)
	}
}

// bulkInKeyScope says whether every exception b works on is one the
// request's API key may see.
func (s *Server) bulkInKeyScope(c *fiber.Ctx, b inbox.BulkAction) (bool, error) {
	if b.GroupID != 0 {
		_, err := s.groupInScope(c, b.GroupID)
		if fault.CodeOf(err) == fault.NotFound {
			return false, nil
		}
		return err == nil, err
	}
	ids, err := inbox.BulkSelection(c.UserContext(), s.deps.DB, b.ID)
	if err != nil || len(ids) == 0 {
		return false, err
	}
	missing, err := s.exceptionsOutOfScope(c, ids)
	return err == nil && len(missing) == 0, err
}

package web

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/store"
)

// Default limits of the trigger endpoint.
const (
	// DefaultMaxMessageBytes caps one event's body (CROSSDOCK_MAX_MESSAGE_BYTES).
	DefaultMaxMessageBytes = 1 << 20
	// maxWait caps Prefer: wait=N.
	maxWait = 30 * time.Second
)

const localAPIKey = "crossdock.api_key"

func apiKeyOf(c *fiber.Ctx) *account.APIKey {
	k, _ := c.Locals(localAPIKey).(*account.APIKey)
	return k
}

// requireAPIKey admits only requests authenticated by an API key (trigger
// endpoints are for systems, not browsers).
func (s *Server) requireAPIKey() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if apiKeyOf(c) == nil {
			return &fault.Error{Code: fault.Unauthorized, Message: "send an API key as `Authorization: Bearer <key>`; admins create keys under Admin → API keys or with `crossdock apikey create`"}
		}
		return c.Next()
	}
}

// checkTriggerRequest applies what every trigger call must pass before any
// work: the key's scope, its rate, the media type and the size.
func (s *Server) checkTriggerRequest(c *fiber.Ctx, env, flow string, maxBytes int, mediaTypes ...string) error {
	key := apiKeyOf(c)
	if err := key.Allows(env, flow); err != nil {
		return err
	}
	if ok, wait := s.deps.KeyLimiter.Allow(*key, s.deps.Now()); !ok {
		secs := int(wait.Seconds() + 0.999)
		if secs < 1 {
			secs = 1
		}
		return &fault.Error{Code: fault.TooMany, RetryAfterSeconds: secs,
			Message: fmt.Sprintf("this API key is over its rate of %d messages a minute; retry after %d s", key.RatePerMinute, secs)}
	}
	ct := c.Get(fiber.HeaderContentType)
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !acceptedMedia(mt, mediaTypes) {
		return &fault.Error{Code: fault.Unsupported, Message: fmt.Sprintf("send the body as %s (got Content-Type %q)", strings.Join(mediaTypes, " or "), ct)}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		// JSON is UTF-8 (RFC 8259); a Latin-1 body would otherwise be
		// refused later as "not valid UTF-8", which hides the cause.
		return &fault.Error{Code: fault.Unsupported, Message: fmt.Sprintf("send the body encoded as UTF-8 (Content-Type says charset=%q)", cs)}
	}
	if n := len(c.Body()); n > maxBytes {
		return fault.Errorf(fault.TooLarge, "the body is %d bytes; this endpoint accepts at most %d", n, maxBytes)
	}
	return nil
}

func acceptedMedia(mt string, accepted []string) bool {
	for _, a := range accepted {
		if mt == a {
			return true
		}
	}
	// application/vnd.shop+json and the like are JSON too.
	return strings.HasSuffix(mt, "+json") && accepted[0] == fiber.MIMEApplicationJSON
}

// intakeError turns the intake's bad-JSON refusal into 400, keeping its
// message (which names the position).
func intakeError(err error) error {
	if errors.Is(err, intake.ErrBadJSON) {
		if fe, ok := fault.As(err); ok {
			return &fault.Error{Code: fault.Malformed, Message: fe.Message, Err: err}
		}
	}
	return err
}

// triggerAccept is POST /api/v1/envs/{env}/flows/{flow}/messages: accept one
// event durably (message, lineage and job in one transaction) and answer 202
// with its id, or with Prefer: wait=N map it inline and answer with the
// outputs.
func (s *Server) triggerAccept() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, flow := c.Params("env"), c.Params("flow")
		if err := s.checkTriggerRequest(c, env, flow, s.cfg.MaxMessageBytes, fiber.MIMEApplicationJSON, fiber.MIMEApplicationXML, fiber.MIMETextXML); err != nil {
			return err
		}
		payload, err := triggerPayload(c)
		if err != nil {
			return err
		}
		key := c.Get("Idempotency-Key")
		if len(key) > intake.MaxKeyLength {
			return fault.Errorf(fault.Invalid, "the Idempotency-Key header is %d characters; at most %d", len(key), intake.MaxKeyLength)
		}
		corr := c.Get("X-Correlation-ID")
		if len(corr) > intake.MaxKeyLength || strings.ContainsAny(corr, "\r\n") {
			return fault.Errorf(fault.Invalid, "the X-Correlation-ID header must be one line of at most %d characters", intake.MaxKeyLength)
		}
		req := intake.AcceptRequest{Env: env, FlowSlug: flow, Payload: payload, IdempotencyKey: key, CorrelationID: corr, Now: s.deps.Now()}

		if wait, ok := preferWait(c.Get("Prefer")); ok {
			ctx, cancel := contextWithTimeout(c, wait)
			defer cancel()
			res, err := s.deps.Intake.MapInline(ctx, req)
			if errors.Is(err, intake.ErrWaitExpired) {
				// Recorded but not mapped in time: the asynchronous
				// answer, without Preference-Applied.
				return s.acceptedAnswer(c, env, flow, res.AcceptResult)
			}
			if err != nil {
				return intakeError(err)
			}
			s.acceptHeaders(c, res.AcceptResult)
			s.observeAccept(c, env, flow, res.AcceptResult)
			c.Set("Preference-Applied", "wait="+strconv.Itoa(int(wait.Seconds())))
			body := fiber.Map{"id": res.MessageID, "statusUrl": res.StatusURL, "correlationId": res.CorrelationID, "idempotencyKey": res.IdempotencyKey,
				"version": res.VersionNumber, "valid": res.Valid, "routes": res.Routes}
			if !res.Valid {
				// A problem document (RFC 9457) whose extension members
				// are the recorded message and the rules it failed.
				var rules []string
				for _, v := range res.Validation {
					rules = append(rules, v.Message)
				}
				failed := "1 validation rule"
				if len(rules) != 1 {
					failed = strconv.Itoa(len(rules)) + " validation rules"
				}
				p := problemOf(c, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("the event failed %s of the flow and was recorded as message %s with a validation exception. %s",
					failed, res.MessageID, strings.Join(rules, " "))}, fiber.StatusUnprocessableEntity)
				body["type"], body["title"], body["status"], body["detail"] = p.Type, p.Title, p.Status, p.Detail
				body["code"], body["instance"], body["request_id"] = p.Code, p.Instance, p.RequestID
				body["validation"] = res.Validation
				return c.Status(fiber.StatusUnprocessableEntity).JSON(body, "application/problem+json")
			}
			if len(res.MappingErrors) > 0 {
				body["mappingErrors"] = res.MappingErrors
			}
			if res.Reply != nil {
				body["reply"] = res.Reply
			}
			return c.Status(fiber.StatusOK).JSON(body)
		}

		res, err := s.deps.Intake.Accept(c.UserContext(), req)
		if err != nil {
			return intakeError(err)
		}
		return s.acceptedAnswer(c, env, flow, res)
	}
}

// triggerPayload is the event's body as the flow sees it: a JSON body as
// it is, an XML body (checkTriggerRequest has bounded its size) read into
// the same structure by the output formats' convention (engine/format:
// elements are keys, attributes @name, text #text, every value a string).
// A DOCTYPE is refused before anything is read from it.
func triggerPayload(c *fiber.Ctx) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if mt != fiber.MIMEApplicationXML && mt != fiber.MIMETextXML {
		return append([]byte(nil), c.Body()...), nil
	}
	payload, err := format.DecodeXML(c.Body())
	if err != nil {
		return nil, &fault.Error{Code: fault.Malformed, Message: err.Error(), Err: err}
	}
	return payload, nil
}

// acceptedAnswer is the 202 of an event recorded for the workers.
func (s *Server) acceptedAnswer(c *fiber.Ctx, env, flow string, res intake.AcceptResult) error {
	s.acceptHeaders(c, res)
	s.observeAccept(c, env, flow, res)
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{
		"id": res.MessageID, "status": "accepted", "statusUrl": res.StatusURL,
		"correlationId": res.CorrelationID, "idempotencyKey": res.IdempotencyKey,
		"version": res.VersionNumber, "replayed": res.Replayed,
	})
}

func (s *Server) acceptHeaders(c *fiber.Ctx, res intake.AcceptResult) {
	c.Set(fiber.HeaderLocation, res.StatusURL)
	c.Set("X-Correlation-ID", res.CorrelationID)
	if res.Replayed {
		c.Set("Idempotent-Replayed", "true")
	}
}

// preferWait reads `Prefer: wait=N` (RFC 7240), capped at 30 s.
func preferWait(h string) (time.Duration, bool) {
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "wait") {
			continue
		}
		n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(v), `"`))
		if err != nil || n < 1 {
			return 0, false
		}
		d := time.Duration(n) * time.Second
		if d > maxWait {
			d = maxWait
		}
		return d, true
	}
	return 0, false
}

// triggerBatch is POST …/messages:batch with NDJSON, each line its own event
// keyed by the flow's key expression, answered line by line; or with CSV
// (header row first), each row its own event of string values named by
// the header, answered row by row.
func (s *Server) triggerBatch() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, flow := c.Params("env"), c.Params("flow")
		if err := s.checkTriggerRequest(c, env, flow, s.cfg.MaxMessageBytes*16, "application/x-ndjson", "application/jsonl", "text/csv"); err != nil {
			return err
		}
		var lines [][]byte
		if mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); mt == "text/csv" {
			rows, err := format.DecodeCSV(c.Body(), intake.MaxBatchLines)
			if errors.Is(err, format.ErrTooManyRows) {
				return &fault.Error{Code: fault.TooLarge, Message: err.Error(), Err: err}
			}
			if err != nil {
				return &fault.Error{Code: fault.Malformed, Message: err.Error(), Err: err}
			}
			lines = rows
		} else {
			for _, l := range strings.Split(string(c.Body()), "\n") {
				if strings.TrimSpace(l) != "" {
					lines = append(lines, []byte(l))
				}
			}
		}
		if len(lines) == 0 {
			return &fault.Error{Code: fault.Invalid, Message: "the batch is empty; send one JSON event per line"}
		}
		if len(lines) > intake.MaxBatchLines {
			return fault.Errorf(fault.TooLarge, "the batch has %d events; at most %d per request", len(lines), intake.MaxBatchLines)
		}
		results, err := s.deps.Intake.AcceptBatch(c.UserContext(), intake.BatchRequest{Env: env, FlowSlug: flow, Lines: lines, MaxLineBytes: s.cfg.MaxMessageBytes, Now: s.deps.Now()})
		if err != nil {
			return intakeError(err)
		}
		out := make([]fiber.Map, len(results))
		accepted := 0
		for i, r := range results {
			if r.Err != nil {
				fe := toFault(intakeError(r.Err))
				out[i] = fiber.Map{"line": r.Line, "status": statusOf[fe.Code], "code": fe.Code, "detail": fe.Message}
				continue
			}
			accepted++
			if s.deps.Metrics != nil && !r.Replayed {
				s.deps.Metrics.Accepted(strings.Clone(env), strings.Clone(flow), 1)
			}
			out[i] = fiber.Map{"line": r.Line, "status": fiber.StatusAccepted, "id": r.MessageID, "statusUrl": r.StatusURL,
				"correlationId": r.CorrelationID, "idempotencyKey": r.IdempotencyKey, "replayed": r.Replayed}
		}
		status := fiber.StatusAccepted
		if accepted < len(results) {
			status = fiber.StatusMultiStatus
		}
		return c.Status(status).JSON(fiber.Map{"accepted": accepted, "rejected": len(results) - accepted, "results": out})
	}
}

// messageGet is GET /api/v1/messages/{id}: status, lineage and deliveries.
// A key sees only the messages of its environment and flows; others do not
// exist for it.
func (s *Server) messageGet() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := store.ParseMessageID(c.Params("id"))
		if err != nil {
			return err
		}
		v, err := store.MessageGet(c.UserContext(), s.deps.DB, id)
		if err != nil {
			return err
		}
		if !keyMaySee(c, v.Message.Environment, v.Message.FlowSlug) {
			return fault.Errorf(fault.NotFound, "no message %s", id)
		}
		return c.JSON(v)
	}
}

// contextWithTimeout bounds a synchronous answer.
func contextWithTimeout(c *fiber.Ctx, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), d)
}

package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/program"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
)

// Steps (a route's then) are deliveries of their own. When a delivery
// whose route or step has steps after it is delivered, recordAttempts
// calls followSteps in the transaction that records the attempt: the
// answer is stored on the delivery, the steps are mapped with it and the
// answers before it, and each matching step is inserted as a pending
// delivery with its job. A crash before the commit loses neither the
// attempt nor the steps; the step's id (store.StepDeliveryID, its
// Idempotency-Key) is derived from message, route and step, so mapping
// again never makes a second delivery. A step that fails later is retried
// from its own stored body: the deliveries before it are not sent again.

// stepMessage is what mapping a message's steps needs of it.
type stepMessage struct {
	envID, flowID int64
	version       int
	checksum      string
	payload       []byte
	receivedAt    time.Time
	sequenceKey   string
}

// followSteps stores the answers of the delivered deliveries among recs
// that have steps after them, inserts those steps' deliveries and returns
// the ids of the ones to send (their jobs are the caller's).
func followSteps(ctx context.Context, tx pgx.Tx, recs []*attemptRecord) ([]uuid.UUID, error) {
	var queued []uuid.UUID
	for _, r := range recs {
		ids, err := followStep(ctx, tx, r.d, responseOf(r.res))
		if err != nil {
			return nil, err
		}
		queued = append(queued, ids...)
	}
	return queued, nil
}

// responseOf is an attempt's answer as steps see it: the body as a JSON
// value when it is JSON, else as a string.
func responseOf(res transport.Outcome) engine.Response {
	a := res.Answer
	if a == nil {
		return engine.Response{Status: res.StatusCode}
	}
	out := engine.Response{Status: a.Status, Headers: a.Headers}
	switch {
	case len(strings.TrimSpace(string(a.Body))) == 0:
	case json.Valid(a.Body):
		out.Body = a.Body
	default:
		text := strings.ToValidUTF8(string(a.Body), "�")
		out.Body, _ = json.Marshal(text)
	}
	return out
}

// followStep is followSteps of one delivery d, whose target answered resp.
func followStep(ctx context.Context, tx pgx.Tx, d pendingDelivery, resp engine.Response) ([]uuid.UUID, error) {
	name := d.Route
	if d.Step != "" {
		name = d.Step
	}
	if d.checksum != "" {
		// Nearly every delivery has nothing after it: the cached program
		// says so without reading the message.
		prog, err := program.Load(ctx, tx, d.flowID, d.version, d.checksum)
		if err != nil {
			return nil, err
		}
		if !prog.Program.KeepsAnswer(name) {
			return nil, nil
		}
	}
	var m stepMessage
	err := tx.QueryRow(ctx, stepMessageSelect, d.MessageID).Scan(&m.envID, &m.flowID, &m.version, &m.checksum, &m.payload, &m.receivedAt, &m.sequenceKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil // deleted meanwhile (retention): nothing follows
	}
	if err != nil {
		return nil, fmt.Errorf("steps after delivery %s: %w", d.ID, err)
	}
	prog, err := program.Load(ctx, tx, m.flowID, m.version, m.checksum)
	if err != nil {
		return nil, err
	}
	if !prog.Program.KeepsAnswer(name) {
		return nil, nil
	}
	stored, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("answer of delivery %s: %w", d.ID, err)
	}
	if _, err := tx.Exec(ctx, deliveryResponseUpdate, d.ID, stored); err != nil {
		return nil, fmt.Errorf("answer of delivery %s: %w", d.ID, err)
	}
	var queued []uuid.UUID
	if len(prog.Program.Then(name)) > 0 {
		if queued, err = mapSteps(ctx, tx, d.MessageID, d.ID, d.Route, name, m, prog, nil); err != nil {
			return nil, err
		}
	}
	if err := replyWhenReady(ctx, tx, d.MessageID, d.Route, m, prog); err != nil {
		return nil, err
	}
	return queued, nil
}

// replyWhenReady maps the route's reply once every answer it names is
// stored, and keeps it on the message (messages.reply) for a waiting
// trigger call and the status resource; a reply whose rows fail is not
// kept, and the lineage says why.
func replyWhenReady(ctx context.Context, tx pgx.Tx, messageID uuid.UUID, route string, m stepMessage, prog *program.Compiled) error {
	if len(prog.Program.ReplySteps(route)) == 0 {
		return nil
	}
	responses, err := storedResponses(ctx, tx, messageID, route)
	if err != nil {
		return err
	}
	vars, err := release.Variables(ctx, tx, m.envID)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithTimeoutCause(ctx, prog.Program.TimeBudget(), engine.ErrTimeBudget)
	defer cancel()
	rr, err := prog.Program.RunReply(runCtx, engine.Input{Payload: m.payload, Now: m.receivedAt, Vars: vars}, route, responses)
	switch {
	case errors.Is(err, engine.ErrUnknownStep):
		return nil // an answer it names is still to come
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return store.AddLineage(ctx, tx, messageID, store.Lineage{Stage: store.StageFailed, Detail: map[string]any{"reply": route, "error": err.Error()}})
	case len(rr.Errors) > 0:
		return store.AddLineage(ctx, tx, messageID, store.Lineage{Stage: store.StageFailed, Detail: map[string]any{"reply": route, "errors": rr.Errors}})
	}
	if _, err := tx.Exec(ctx, messageReplyUpdate, messageID, string(rr.Output)); err != nil {
		return fmt.Errorf("reply of message %s: %w", messageID, err)
	}
	return store.AddLineage(ctx, tx, messageID, store.Lineage{Stage: store.StageMapped, Detail: map[string]any{"reply": route}})
}

// mapSteps maps the steps after the route or step name (delivery
// parentID) of a message with the answers stored on its route's
// deliveries and inserts their deliveries; only, when set, limits it to
// one step (a retry that maps a failed step again). It returns the ids of
// the deliveries inserted pending.
func mapSteps(ctx context.Context, tx pgx.Tx, messageID, parentID uuid.UUID, route, name string, m stepMessage, prog *program.Compiled, only *string) ([]uuid.UUID, error) {
	responses, err := storedResponses(ctx, tx, messageID, route)
	if err != nil {
		return nil, err
	}
	vars, err := release.Variables(ctx, tx, m.envID)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithTimeoutCause(ctx, prog.Program.TimeBudget(), engine.ErrTimeBudget)
	results, runErr := prog.Program.RunSteps(runCtx, engine.StepInput{
		Input: engine.Input{Payload: m.payload, Now: m.receivedAt, Vars: vars}, After: name, Responses: responses})
	cancel()
	if runErr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The answer or the payload cannot be mapped at all (not
		// decodable, over a limit): every step after it fails so.
		results = nil
		for _, step := range prog.Program.Then(name) {
			target, _ := prog.Program.StepTarget(step)
			results = append(results, engine.RouteResult{Name: step, Target: target, Matched: true,
				Errors: []engine.RowError{{Section: engine.SectionStep, Route: step, Message: runErr.Error()}}})
		}
	}
	now := time.Now()
	var queued []uuid.UUID
	var matchedNames []string
	for _, st := range results {
		if only != nil && st.Name != *only {
			continue
		}
		if !st.Matched {
			continue
		}
		id := store.StepDeliveryID(messageID, route, st.Name)
		kind := prog.Kinds[st.Target]
		if kind == "" {
			kind = engine.TargetHTTP
		}
		status, lastError, body := store.DeliveryPending, "", []byte(st.Output)
		if len(st.Errors) > 0 {
			status, lastError, body = store.DeliveryFailed, st.Errors[0].String(), []byte("null")
		}
		if only != nil {
			// A retry of a step whose mapping failed: the delivery is
			// there; give it the body mapped now.
			if len(st.Errors) > 0 {
				return nil, fault.Errorf(fault.Invalid, "step %s still cannot be mapped: %s; fix the flow and deploy it, or replay the message", st.Name, st.Errors[0].String())
			}
			if _, err := tx.Exec(ctx, stepBodyUpdate, id, string(body)); err != nil {
				return nil, fmt.Errorf("step %s of message %s: %w", st.Name, messageID, err)
			}
			return []uuid.UUID{id}, nil
		}
		var inserted uuid.UUID
		err := tx.QueryRow(ctx, stepDeliveryInsert, id, messageID, route, st.Name, parentID, st.Target, string(kind), string(body), string(status), lastError).Scan(&inserted)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // mapped before (the delivery before it was recorded twice)
		}
		if err != nil {
			return nil, fmt.Errorf("step %s of message %s: %w", st.Name, messageID, err)
		}
		matchedNames = append(matchedNames, st.Name)
		if status == store.DeliveryFailed {
			if err := stepMappingFailed(ctx, tx, messageID, id, m, route, name, st); err != nil {
				return nil, err
			}
			continue
		}
		queued = append(queued, id)
	}
	if only != nil {
		return nil, fault.Errorf(fault.Conflict, "step %s no longer follows %s in version %d of this flow, or its condition is false now; replay the message instead", *only, name, m.version)
	}
	if matchedNames == nil {
		matchedNames = []string{}
	}
	events := []store.Lineage{{DeliveryID: &parentID, At: now, Stage: store.StageRouted, Detail: map[string]any{"after": name, "routes": matchedNames, "steps": true}}}
	if len(queued) > 0 {
		events = append(events, store.Lineage{At: now, Stage: store.StageQueued, Detail: map[string]any{"deliveries": queued, "after": name}})
	}
	if err := store.AddLineage(ctx, tx, messageID, events...); err != nil {
		return nil, err
	}
	return queued, nil
}

// stepMappingFailed files a step whose rows failed on the answer: its
// delivery is failed, and a mapping exception says which row and why.
func stepMappingFailed(ctx context.Context, tx pgx.Tx, messageID, id uuid.UUID, m stepMessage, route, after string, st engine.RouteResult) error {
	first := st.Errors[0]
	if err := store.AddLineage(ctx, tx, messageID, store.Lineage{DeliveryID: &id, Stage: store.StageFailed,
		Detail: map[string]any{"route": route, "step": st.Name, "after": after, "errors": st.Errors}}); err != nil {
		return err
	}
	detail, _ := json.Marshal(map[string]any{"errors": st.Errors, "step": st.Name})
	return store.RaiseException(ctx, tx, store.Exception{Kind: store.ExceptionMapping, EnvironmentID: m.envID, FlowID: m.flowID,
		MessageID: messageID, DeliveryID: &id, Stage: "step",
		ErrorClass: strings.TrimSpace("step " + st.Name + " " + store.ItemIndex.ReplaceAllString(first.Path, "[]")),
		Message:    fmt.Sprintf("step %s (after %s) could not map the answer: %s", st.Name, after, first.String()), Detail: detail})
}

// storedResponses are the answers stored on a message's deliveries of
// one route, by route or step name.
func storedResponses(ctx context.Context, tx pgx.Tx, messageID uuid.UUID, route string) (map[string]engine.Response, error) {
	rows, err := tx.Query(ctx, storedResponsesSelect, messageID, route)
	if err != nil {
		return nil, fmt.Errorf("answers of message %s: %w", messageID, err)
	}
	out := map[string]engine.Response{}
	for rows.Next() {
		var step string
		var raw []byte
		if err := rows.Scan(&step, &raw); err != nil {
			rows.Close()
			return nil, fmt.Errorf("answers of message %s: %w", messageID, err)
		}
		var r engine.Response
		if err := json.Unmarshal(raw, &r); err != nil {
			rows.Close()
			return nil, fmt.Errorf("answer of %s of message %s: %w", step, messageID, err)
		}
		name := route
		if step != "" {
			name = step
		}
		out[name] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("answers of message %s: %w", messageID, err)
	}
	return out, nil
}

// remapStep maps a step whose mapping failed again, for DeliveryRetry:
// from the answers stored before it, on the message's version (a fixed
// flow needs a replay). It gives the delivery the body mapped now, or
// says why it still cannot.
func remapStep(ctx context.Context, tx pgx.Tx, deliveryID uuid.UUID) error {
	var messageID uuid.UUID
	var route, step string
	var parentID *uuid.UUID
	var body []byte
	if err := tx.QueryRow(ctx, stepOfDeliverySelect, deliveryID).Scan(&messageID, &route, &step, &parentID, &body); err != nil {
		return fmt.Errorf("delivery %s: %w", deliveryID, err)
	}
	if step == "" || parentID == nil || string(body) != "null" {
		return nil // a route's delivery, or a step with its body: resent as it is
	}
	var m stepMessage
	if err := tx.QueryRow(ctx, stepMessageSelect, messageID).Scan(&m.envID, &m.flowID, &m.version, &m.checksum, &m.payload, &m.receivedAt, &m.sequenceKey); err != nil {
		return fmt.Errorf("message %s: %w", messageID, err)
	}
	prog, err := program.Load(ctx, tx, m.flowID, m.version, m.checksum)
	if err != nil {
		return err
	}
	var parentStep string
	if err := tx.QueryRow(ctx, stepOfParentSelect, *parentID).Scan(&parentStep); err != nil {
		return fmt.Errorf("delivery %s: %w", *parentID, err)
	}
	after := route
	if parentStep != "" {
		after = parentStep
	}
	_, err = mapSteps(ctx, tx, messageID, *parentID, route, after, m, prog, &step)
	return err
}

package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// DB is a pool (or a transaction, in tests): queries plus Begin for the
// short transactions intake and the workers run.
type DB interface {
	mappings.DBTX
	txn.Beginner
}

// Errors the trigger handler maps to specific HTTP statuses. Each is
// wrapped in a *fault.Error carrying the message for the caller.
var (
	// ErrKeyReused: the idempotency key was used before with a different
	// payload (422, per the IETF Idempotency-Key draft).
	ErrKeyReused = errors.New("idempotency key reused with a different payload")
	// ErrBadJSON: the body is not a JSON document (400).
	ErrBadJSON = errors.New("body is not JSON")
)

// unavailableRetryAfter is what a 503 tells callers to wait when the
// database cannot be reached.
const unavailableRetryAfter = 5

// unavailable turns a failure to reach the database into fault.Unavailable,
// so the trigger answers 503 with Retry-After instead of 500: the source
// system should simply try again. Other errors pass through unchanged.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := fault.As(err); ok {
		return err
	}
	if txn.Unreachable(err) || errors.Is(err, context.DeadlineExceeded) {
		return &fault.Error{Code: fault.Unavailable, RetryAfterSeconds: unavailableRetryAfter, Err: err,
			Message: "the message store is unavailable; nothing was recorded, send the event again shortly"}
	}
	return err
}

// MaxKeyLength bounds idempotency keys and correlation ids.
const MaxKeyLength = 255

// ProcessGroupSize is the most messages one process job carries.
const ProcessGroupSize = 128

// MaxBatchLines is the most events one batch request may carry.
const MaxBatchLines = 1000

// AcceptRequest is one event posted to a flow's trigger.
type AcceptRequest struct {
	Env      string // environment name, e.g. "prod"
	FlowSlug string
	Payload  []byte
	// IdempotencyKey is the Idempotency-Key header; empty means derive it
	// with the flow's key expression (or, without one, accept every
	// request as new).
	IdempotencyKey string
	// CorrelationID is the X-Correlation-ID header; empty means derive it
	// with the flow's correlation expression, else generate one.
	CorrelationID string
	// Now is the received time; zero means time.Now(). It is what now()
	// returns in expressions, for this message and every replay of it.
	Now time.Time
}

// AcceptResult is the answer to an accepted event.
type AcceptResult struct {
	MessageID      uuid.UUID
	IdempotencyKey string
	CorrelationID  string
	// Replayed is true when the key was seen before with the same
	// payload: MessageID is the original message and no new work was done
	// (the handler sets Idempotent-Replayed: true).
	Replayed bool
	// StatusURL is where the message's status and lineage are served.
	StatusURL     string
	EnvironmentID int64
	FlowID        int64
	VersionNumber int
	ReceivedAt    time.Time
}

// StatusURL returns the API path of a message.
func StatusURL(id uuid.UUID) string { return "/api/v1/messages/" + id.String() }

// ProcessArgs is the job that validates, maps and routes messages: the
// one a single accept recorded, or every message of one group commit or
// NDJSON batch, so that processing pays River's fetch and completion, and
// a commit, once per group rather than once per message.
type ProcessArgs struct {
	MessageIDs []uuid.UUID `json:"message_ids"`
	// Retry marks an inbox retry: success resolves the message's open
	// validation and mapping exceptions.
	Retry bool `json:"retry,omitempty"`
}

// Kind names the job in River's tables.
func (ProcessArgs) Kind() string { return "process" }

// InsertOpts puts processing on its own queue so slow targets (deliver
// queue) never hold up mapping. No uniqueness: the message row's own unique
// key already guarantees one job per message, and unique jobs cost an extra
// index write per insert.
func (ProcessArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueProcess, MaxAttempts: 10}
}

// deployed is what intake resolves from the URL: environment, flow and the
// version live there.
type deployed struct {
	envID  int64
	flowID int64
	// deploymentID is the deployment live when this was resolved; group
	// commit inserts a message only while it is still the live one.
	deploymentID int64
	version      int
	checksum     string
	prog         *compiled
	// vars are the environment's variables, loaded only when the key
	// expressions read one, to spare most accepts the query.
	vars map[string]string
}

func resolve(ctx context.Context, db mappings.DBTX, env, flowSlug string) (deployed, error) {
	var d deployed
	var flowID *int64
	var version *int
	var checksum *string
	var deploymentID *int64
	// One round trip for what would otherwise be three lookups per message.
	err := db.QueryRow(ctx, `
		select e.id, f.id, d.id, d.version_number, d.checksum
		from environments e
		left join flows f on f.slug = $2
		left join current_deployments c on c.environment_id = e.id and c.flow_id = f.id
		left join deployments d on d.id = c.deployment_id
		where e.name = $1`, env, flowSlug).Scan(&d.envID, &flowID, &deploymentID, &version, &checksum)
	if errors.Is(err, pgx.ErrNoRows) {
		return deployed{}, fault.Errorf(fault.NotFound, "no environment “%s”; use dev, test, prod or another name from the Environments page", env)
	}
	if err != nil {
		return deployed{}, fmt.Errorf("resolve %s/%s: %w", env, flowSlug, err)
	}
	if flowID == nil {
		return deployed{}, fault.Errorf(fault.NotFound, "no flow “%s”; check the flow's slug in the trigger URL", flowSlug)
	}
	if version == nil {
		return deployed{}, fault.Errorf(fault.Conflict, "flow “%s” has no version deployed to %s; deploy a published version to %s first", flowSlug, env, env)
	}
	d.flowID, d.deploymentID, d.version, d.checksum = *flowID, *deploymentID, *version, *checksum
	if d.prog, err = programs.get(ctx, db, d.flowID, d.version, d.checksum); err != nil {
		return deployed{}, err
	}
	if len(d.prog.keys.Vars()) > 0 {
		if d.vars, err = mappings.Variables(ctx, db, d.envID); err != nil {
			return deployed{}, err
		}
	}
	return d, nil
}

// CheckJSON returns nil for a JSON document, else a fault.Malformed wrapping
// ErrBadJSON that gives the line, column and byte offset of the problem.
func CheckJSON(payload []byte) error {
	if json.Valid(payload) {
		if !utf8.Valid(payload) {
			// encoding/json lets invalid UTF-8 through inside strings;
			// PostgreSQL would refuse the text later, as a 500.
			at := 0
			for at < len(payload) {
				r, size := utf8.DecodeRune(payload[at:])
				if r == utf8.RuneError && size <= 1 {
					break
				}
				at += size
			}
			return &fault.Error{Code: fault.Malformed, Err: ErrBadJSON,
				Message: fmt.Sprintf("the body is not valid UTF-8 (byte %d); send JSON encoded as UTF-8", at)}
		}
		return nil
	}
	var v any
	err := json.Unmarshal(payload, &v)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := 1, 1
		for _, b := range payload[:min(int(syn.Offset), len(payload))] {
			if b == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return &fault.Error{Code: fault.Malformed, Err: ErrBadJSON,
			Message: fmt.Sprintf("the body is not valid JSON: %s at line %d, column %d (byte %d)", syn.Error(), line, col, syn.Offset)}
	}
	if len(strings.TrimSpace(string(payload))) == 0 {
		return &fault.Error{Code: fault.Malformed, Err: ErrBadJSON, Message: "the body is empty; send the event as a JSON document"}
	}
	return &fault.Error{Code: fault.Malformed, Err: ErrBadJSON, Message: "the body is not valid JSON: send one JSON document"}
}

// prepared is an event checked and keyed, ready to insert.
type prepared struct {
	id          uuid.UUID
	key         string
	keySource   string
	correlation string
	channel     string
	payload     []byte
	sha         [32]byte
	now         time.Time
}

func prepare(ctx context.Context, d deployed, payload []byte, key, correlation string, now time.Time) (prepared, error) {
	if err := CheckJSON(payload); err != nil {
		return prepared{}, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	id, err := uuid.NewV7() // time-ordered, so inserts stay at the right edge of the index
	if err != nil {
		return prepared{}, fmt.Errorf("message id: %w", err)
	}
	p := prepared{id: id, key: key, keySource: "header", correlation: correlation, payload: payload, sha: sha256.Sum256(payload), now: now}
	if (key == "" && d.prog.def.Keys.Idempotency != "") || (correlation == "" && d.prog.def.Keys.Correlation != "") || d.prog.def.Keys.Channel != "" {
		res, err := d.prog.keys.Run(ctx, engine.Input{Payload: payload, Now: now, Vars: d.vars})
		switch {
		case errors.Is(err, engine.ErrInvalidInput):
			return prepared{}, &fault.Error{Code: fault.Malformed, Err: ErrBadJSON, Message: "the body is not valid JSON: " + err.Error()}
		case errors.Is(err, engine.ErrLimit):
			return prepared{}, fault.Wrap(err, fault.TooLarge, "the event is over a size limit of the flow: "+err.Error())
		case err != nil:
			return prepared{}, fmt.Errorf("derive keys: %w", err)
		}
		for _, e := range res.Errors {
			if e.Section == engine.SectionKey && key == "" {
				return prepared{}, fault.Errorf(fault.Invalid, "cannot derive the idempotency key with `%s`: %s; send an Idempotency-Key header or fix the payload", d.prog.def.Keys.Idempotency, e.Message)
			}
		}
		if key == "" && res.Key != "" {
			p.key, p.keySource = res.Key, "expression"
		}
		if correlation == "" {
			p.correlation = res.CorrelationID
		}
		p.channel = truncate(res.Channel, MaxKeyLength)
	}
	if p.key == "" {
		// No header and no usable expression: every request is new.
		p.key, p.keySource = id.String(), "generated"
	}
	if p.correlation == "" {
		p.correlation = id.String()
	}
	if len(p.key) > MaxKeyLength {
		return prepared{}, fault.Errorf(fault.Invalid, "the idempotency key is %d characters; at most %d are allowed", len(p.key), MaxKeyLength)
	}
	if len(p.correlation) > MaxKeyLength {
		return prepared{}, fault.Errorf(fault.Invalid, "the correlation id is %d characters; at most %d are allowed", len(p.correlation), MaxKeyLength)
	}
	return p, nil
}

// insertMessageSQL inserts the message and its received event in one
// statement; it returns no row when the key exists already.
const insertMessageSQL = `
	with m as (
		insert into messages (id, environment_id, flow_id, version_number, checksum, idempotency_key, key_claim, correlation_id,
			payload, payload_sha256, received_at, channel)
		values ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $12)
		on conflict (environment_id, flow_id, key_claim) do nothing
		returning id, received_at
	)
	insert into lineage_events (message_id, at, stage, detail)
	select id, received_at, 'received', $11::jsonb from m
	returning message_id`

func insertArgs(d deployed, p prepared) []any {
	return []any{p.id, d.envID, d.flowID, d.version, d.checksum, p.key, p.correlation, p.payload, p.sha[:], p.now, receivedDetail(d, p), p.channel}
}

// receivedDetail is the detail of a message's received lineage event.
func receivedDetail(d deployed, p prepared) string {
	detail, _ := json.Marshal(map[string]any{"version": d.version, "keySource": p.keySource, "bytes": len(p.payload)})
	return string(detail)
}

// existing answers a key that was seen before: the original message when
// the payload is the same, ErrKeyReused when it is not.
func existing(ctx context.Context, db mappings.DBTX, d deployed, p prepared) (AcceptResult, error) {
	var r AcceptResult
	var sha []byte
	err := db.QueryRow(ctx, `
		select id, correlation_id, payload_sha256, version_number, received_at from messages
		where environment_id = $1 and flow_id = $2 and key_claim = $3`, d.envID, d.flowID, p.key).
		Scan(&r.MessageID, &r.CorrelationID, &sha, &r.VersionNumber, &r.ReceivedAt)
	if err != nil {
		return AcceptResult{}, fmt.Errorf("look up idempotency key: %w", err)
	}
	if string(sha) != string(p.sha[:]) {
		return AcceptResult{}, &fault.Error{Code: fault.Invalid, Err: ErrKeyReused,
			Message: fmt.Sprintf("the idempotency key “%s” was already used for a different payload (message %s); use a new key for a new event", p.key, r.MessageID)}
	}
	r.IdempotencyKey, r.Replayed, r.StatusURL = p.key, true, StatusURL(r.MessageID)
	r.EnvironmentID, r.FlowID = d.envID, d.flowID
	return r, nil
}

// Accept records an event durably: the message, its received lineage event
// and its process job in one transaction, so the message exists if and
// only if its job does. The same key with the same payload returns the
// original message with Replayed set and does nothing new; the same key
// with a different payload fails with ErrKeyReused. Concurrent identical
// requests yield one message: the unique key makes the second insert wait
// for the first and then find it.
//
// Errors are *fault.Error: NotFound for an unknown environment or flow,
// Conflict when nothing is deployed, Malformed (wrapping ErrBadJSON) for a
// body that is not JSON, Invalid (wrapping ErrKeyReused where that applies)
// for a bad event, TooLarge over the engine's limits, Unavailable (with
// RetryAfterSeconds) when the database cannot be reached.
func Accept(ctx context.Context, db DB, client *river.Client[pgx.Tx], req AcceptRequest) (AcceptResult, error) {
	res, err := accept(ctx, db, client, req)
	return res, unavailable(err)
}

func accept(ctx context.Context, db DB, client *river.Client[pgx.Tx], req AcceptRequest) (AcceptResult, error) {
	d, err := resolve(ctx, db, req.Env, req.FlowSlug)
	if err != nil {
		return AcceptResult{}, err
	}
	p, err := prepare(ctx, d, req.Payload, req.IdempotencyKey, req.CorrelationID, req.Now)
	if err != nil {
		return AcceptResult{}, err
	}
	return acceptPrepared(ctx, db, client, d, p)
}

// BatchRequest is an NDJSON batch: one event per line, each keyed on its
// own (by the flow's key expression; lines carry no headers).
type BatchRequest struct {
	Env      string
	FlowSlug string
	Lines    [][]byte
	Now      time.Time
}

// BatchLineResult answers one line. Err is a *fault.Error for that line
// alone (bad JSON, key reused); the others are accepted regardless.
type BatchLineResult struct {
	Line int // 1-based
	AcceptResult
	Err error
}

// AcceptBatch accepts up to MaxBatchLines events in one transaction, their
// jobs inserted with one InsertManyTx. Each line is answered separately; the
// returned error is for the batch as a whole (unknown flow, too many lines,
// the database).
func AcceptBatch(ctx context.Context, db DB, client *river.Client[pgx.Tx], req BatchRequest) ([]BatchLineResult, error) {
	res, err := acceptBatch(ctx, db, client, req)
	return res, unavailable(err)
}

func acceptBatch(ctx context.Context, db DB, client *river.Client[pgx.Tx], req BatchRequest) ([]BatchLineResult, error) {
	if len(req.Lines) > MaxBatchLines {
		return nil, fault.Errorf(fault.TooLarge, "the batch has %d events; send at most %d per request", len(req.Lines), MaxBatchLines)
	}
	if len(req.Lines) == 0 {
		return nil, fault.Errorf(fault.Invalid, "the batch is empty; send one JSON document per line")
	}
	d, err := resolve(ctx, db, req.Env, req.FlowSlug)
	if err != nil {
		return nil, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	results := make([]BatchLineResult, len(req.Lines))
	preps := make([]prepared, len(req.Lines))
	for i, line := range req.Lines {
		results[i].Line = i + 1
		preps[i], results[i].Err = prepare(ctx, d, line, "", "", now)
	}
	err = txn.Run(ctx, db, func(tx pgx.Tx) error {
		// Inserted one at a time within the batch so that two lines with the
		// same key behave like two requests: the second is a replay or
		// ErrKeyReused.
		var ids []uuid.UUID
		for i := range results {
			if results[i].Err != nil {
				continue
			}
			p := preps[i]
			var id uuid.UUID
			err := tx.QueryRow(ctx, insertMessageSQL, insertArgs(d, p)...).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				r, err := existing(ctx, tx, d, p)
				if _, ok := fault.As(err); ok {
					results[i].Err = err
					continue
				}
				if err != nil {
					return err
				}
				results[i].AcceptResult = r
				continue
			}
			if err != nil {
				return fmt.Errorf("insert message (line %d): %w", i+1, err)
			}
			ids = append(ids, id)
			results[i].AcceptResult = AcceptResult{MessageID: id, IdempotencyKey: p.key, CorrelationID: p.correlation,
				StatusURL: StatusURL(id), EnvironmentID: d.envID, FlowID: d.flowID, VersionNumber: d.version, ReceivedAt: p.now}
		}
		// One process job per group of messages (see ProcessArgs).
		var jobs []river.InsertManyParams
		for chunk := range slices.Chunk(ids, ProcessGroupSize) {
			jobs = append(jobs, river.InsertManyParams{Args: ProcessArgs{MessageIDs: chunk}})
		}
		if len(jobs) == 0 {
			return nil
		}
		if _, err := client.InsertManyFastTx(ctx, tx, jobs); err != nil {
			return fmt.Errorf("enqueue processing: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// InlineResult is a synchronous answer (Prefer: wait=N): the accepted
// message and what the flow made of it. When Valid is false, Validation
// says which rules failed (the handler answers 422); MappingErrors lists
// expressions that failed. Routes holds the matched routes' outputs.
type InlineResult struct {
	AcceptResult
	Valid         bool
	Validation    []engine.ValidationFailure
	MappingErrors []engine.RowError
	Routes        []engine.RouteResult
}

// MapInline accepts the event exactly as Accept does (it is recorded and
// processed and delivered like any other), then validates and maps it in
// the request so the caller gets the outputs or the validation failures at
// once. Bound ctx by the caller's wait: when it runs out after the message
// was recorded, the result still carries the AcceptResult, with an error
// that wraps ctx's (errors.Is(err, context.DeadlineExceeded)), so the caller
// can fall back to a 202.
func MapInline(ctx context.Context, db DB, client *river.Client[pgx.Tx], req AcceptRequest) (InlineResult, error) {
	res, err := mapInline(ctx, db, client, req)
	return res, unavailable(err)
}

func mapInline(ctx context.Context, db DB, client *river.Client[pgx.Tx], req AcceptRequest) (InlineResult, error) {
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	acc, err := Accept(ctx, db, client, req)
	if err != nil {
		return InlineResult{}, err
	}
	var version int
	var checksum string
	var envID, flowID int64
	var receivedAt time.Time
	if err := db.QueryRow(ctx, `select environment_id, flow_id, version_number, checksum, received_at from messages where id = $1`, acc.MessageID).
		Scan(&envID, &flowID, &version, &checksum, &receivedAt); err != nil {
		return InlineResult{}, fmt.Errorf("message %s: %w", acc.MessageID, err)
	}
	// A replay maps on the version the original arrived on, like the worker.
	prog, err := programs.get(ctx, db, flowID, version, checksum)
	if err != nil {
		return InlineResult{}, err
	}
	vars, err := mappings.Variables(ctx, db, envID)
	if err != nil {
		return InlineResult{}, err
	}
	res, err := prog.program.Run(ctx, engine.Input{Payload: req.Payload, Now: receivedAt, Vars: vars})
	switch {
	case errors.Is(err, engine.ErrLimit):
		return InlineResult{}, fault.Wrap(err, fault.TooLarge, "the event is over a size limit of the flow: "+err.Error())
	case ctx.Err() != nil:
		// The wait ran out: the message is recorded and will be processed;
		// the caller can answer 202 with acc instead.
		return InlineResult{AcceptResult: acc}, err
	case err != nil:
		return InlineResult{}, fault.Wrap(err, fault.Invalid, "the event cannot be mapped: "+err.Error())
	}
	out := InlineResult{AcceptResult: acc, Valid: res.Valid(), Validation: res.Validation, MappingErrors: res.Errors}
	for _, r := range res.Routes {
		out.MappingErrors = append(out.MappingErrors, r.Errors...)
		if r.Matched {
			out.Routes = append(out.Routes, r)
		}
	}
	return out, nil
}

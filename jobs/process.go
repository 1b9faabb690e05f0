package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// ProcessWorker validates, maps and routes a message on the version it
// arrived on, then writes lineage, delivery rows and one deliver job per
// matched route in one transaction that also completes the job. It is safe
// to run twice: a message no longer in status received is left alone.
type ProcessWorker struct {
	river.WorkerDefaults[ProcessArgs]
	DB     DB
	Logger *slog.Logger
}

// Work processes one message.
func (w *ProcessWorker) Work(ctx context.Context, job *river.Job[ProcessArgs]) error {
	m, vars, configured, err := processInput(ctx, w.DB, job.Args.MessageID)
	if fault.CodeOf(err) == fault.NotFound {
		return river.JobCancel(err) // deleted (retention); retrying cannot help
	}
	if err != nil {
		return err
	}
	if m.Status != StatusReceived {
		return nil
	}
	log := logger(w.Logger).With("message_id", m.ID, "correlation_id", m.CorrelationID, "flow", m.FlowSlug, "env", m.Environment)
	prog, err := programs.get(ctx, w.DB, m.FlowID, m.VersionNumber, m.Checksum)
	if err != nil {
		return err
	}
	start := time.Now()
	res, runErr := prog.program.Run(ctx, engine.Input{Payload: m.Payload, Now: m.ReceivedAt, Vars: vars})
	took := time.Since(start)
	if runErr != nil && !errors.Is(runErr, engine.ErrInvalidInput) && !errors.Is(runErr, engine.ErrLimit) {
		return fmt.Errorf("map message %s: %w", m.ID, runErr) // cancelled: River retries
	}

	var outcome string
	err = txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		var err error
		outcome, err = w.record(ctx, tx, m, prog, res, runErr, took, configured)
		if errors.Is(err, errProcessed) {
			outcome = "already processed"
		} else if err != nil {
			return err
		}
		if job.Args.Retry && (outcome == "routed" || outcome == "unrouted") {
			if err := resolveProcessExceptions(ctx, tx, m.ID); err != nil { // an inbox retry worked
				return err
			}
		}
		return completeTx(ctx, tx, job)
	})
	if err != nil {
		return err
	}
	log.Debug("processed", "outcome", outcome, "took", took)
	return nil
}

// processInput reads, in one round trip, the message with what mapping it
// needs from its environment: the variables and the names of the
// configured targets.
func processInput(ctx context.Context, db mappings.DBTX, id uuid.UUID) (Message, map[string]string, map[string]bool, error) {
	var m Message
	var payload []byte
	var vars map[string]string
	var targets []string
	err := db.QueryRow(ctx, `
		select m.id, m.environment_id, e.name, m.flow_id, f.slug, m.version_number, m.checksum, m.idempotency_key,
		       m.correlation_id, m.payload, m.status, m.received_at, m.updated_at,
		       (select coalesce(jsonb_object_agg(v.name, v.value), '{}') from environment_variables v where v.environment_id = m.environment_id),
		       (select coalesce(array_agg(t.target_name), '{}') from target_configs t where t.environment_id = m.environment_id)
		from messages m join environments e on e.id = m.environment_id join flows f on f.id = m.flow_id
		where m.id = $1`, id).
		Scan(&m.ID, &m.EnvironmentID, &m.Environment, &m.FlowID, &m.FlowSlug, &m.VersionNumber, &m.Checksum,
			&m.IdempotencyKey, &m.CorrelationID, &payload, &m.Status, &m.ReceivedAt, &m.UpdatedAt, &vars, &targets)
	if errors.Is(err, pgx.ErrNoRows) {
		return Message{}, nil, nil, fault.Errorf(fault.NotFound, "no message %s", id)
	}
	if err != nil {
		return Message{}, nil, nil, fmt.Errorf("message %s: %w", id, err)
	}
	m.Payload = payload
	configured := make(map[string]bool, len(targets))
	for _, n := range targets {
		configured[n] = true
	}
	return m, vars, configured, nil
}

// errProcessed says another run processed the message first.
var errProcessed = errors.New("message processed already")

// claimSQL moves a message out of received into the status processing
// decided on. It is the first statement of the processing transaction: the
// row lock it takes serialises two runs of the same job, and when it
// updates nothing another run got there first (errProcessed).
const claimSQL = `update messages set status = $2, updated_at = now() where id = $1 and status = 'received'`

func claim(ctx context.Context, tx pgx.Tx, id uuid.UUID, status MessageStatus) error {
	tag, err := tx.Exec(ctx, claimSQL, id, status)
	if err != nil {
		return fmt.Errorf("message %s status: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return errProcessed
	}
	return nil
}

// record writes what the run made of the message; it returns a word for the
// log.
func (w *ProcessWorker) record(ctx context.Context, tx pgx.Tx, m Message, prog *compiled, res *engine.Result, runErr error, took time.Duration, configured map[string]bool) (string, error) {
	now := time.Now()
	base := Exception{EnvironmentID: m.EnvironmentID, FlowID: m.FlowID, MessageID: m.ID}
	switch {
	case errors.Is(runErr, engine.ErrInvalidInput):
		e := base
		e.Kind, e.Stage, e.ErrorClass, e.Message = ExceptionValidation, "validate", "invalid JSON", "the payload is not a JSON document: "+runErr.Error()
		return "rejected", reject(ctx, tx, m.ID, e, map[string]any{"error": runErr.Error()}, now)
	case errors.Is(runErr, engine.ErrLimit):
		e := base
		e.Kind, e.Stage, e.ErrorClass, e.Message = ExceptionMapping, "map", "limit", runErr.Error()
		return "failed", fail(ctx, tx, m.ID, e, map[string]any{"error": runErr.Error()}, now, took, false)
	case !res.Valid():
		rules := make([]string, len(res.Validation))
		msgs := make([]string, len(res.Validation))
		for i, f := range res.Validation {
			rules[i], msgs[i] = f.Rule, f.Message
		}
		slices.Sort(rules)
		e := base
		e.Kind, e.Stage, e.ErrorClass = ExceptionValidation, "validate", "rule "+strings.Join(rules, ", ")
		e.Message = strings.Join(msgs, "; ")
		e.Detail, _ = json.Marshal(map[string]any{"validation": res.Validation})
		return "rejected", reject(ctx, tx, m.ID, e, map[string]any{"validation": res.Validation}, now)
	}
	var rowErrors []engine.RowError
	rowErrors = append(rowErrors, res.Errors...)
	for _, r := range res.Routes {
		rowErrors = append(rowErrors, r.Errors...)
	}
	if len(rowErrors) > 0 {
		first := rowErrors[0]
		e := base
		e.Kind, e.Stage = ExceptionMapping, "map"
		e.ErrorClass = strings.TrimSpace(string(first.Section) + " " + first.Route + " " + itemIndex.ReplaceAllString(first.Path, "[]"))
		e.Message = first.String()
		e.Detail, _ = json.Marshal(map[string]any{"errors": rowErrors})
		return "failed", fail(ctx, tx, m.ID, e, map[string]any{"errors": rowErrors}, now, took, true)
	}

	var matched []string
	var deliveries []uuid.UUID
	var jobs []river.InsertManyParams
	var rows deliveryRows
	events := []lineage{
		{at: now, stage: StageValidated},
		{at: now, stage: StageMapped, duration: &took},
	}
	var configErrors []Exception
	for _, r := range res.Routes {
		if !r.Matched {
			continue
		}
		matched = append(matched, r.Name)
		kind := prog.kinds[r.Target]
		if kind == "" {
			kind = engine.TargetHTTP
		}
		id, err := uuid.NewV7()
		if err != nil {
			return "", fmt.Errorf("delivery id: %w", err)
		}
		status, lastError := DeliveryPending, ""
		if kind == engine.TargetHTTP && !configured[r.Target] {
			status, lastError = DeliveryFailed, "target not configured"
			e := base
			e.DeliveryID = &id
			e.Kind, e.Stage, e.ErrorClass = ExceptionConfiguration, "route", "target not configured: "+r.Target
			e.Message = fmt.Sprintf("target “%s” (route %s) is not configured in this environment; set its URL on the Environments page, then retry", r.Target, r.Name)
			configErrors = append(configErrors, e)
		}
		rows.add(id, r.Name, r.Target, kind, string(r.Output), status, lastError)
		if status == DeliveryPending {
			deliveries = append(deliveries, id)
			jobs = append(jobs, river.InsertManyParams{Args: DeliverArgs{DeliveryID: id}})
		} else {
			events = append(events, lineage{deliveryID: &id, at: now, stage: StageFailed,
				detail: map[string]any{"route": r.Name, "target": r.Target, "error": "target not configured"}})
		}
	}
	if matched == nil {
		matched = []string{}
	}
	events = append(events, lineage{at: now, stage: StageRouted, detail: map[string]any{"routes": matched}})
	if len(jobs) > 0 {
		events = append(events, lineage{at: now, stage: StageQueued, detail: map[string]any{"deliveries": deliveries}})
	}
	// The message's status follows from the deliveries written here: any
	// failed (a target not configured) → failed, else queued; no route →
	// unrouted.
	status, outcome := StatusQueued, "routed"
	switch {
	case len(matched) == 0:
		status, outcome = StatusUnrouted, "unrouted"
	case len(configErrors) > 0:
		status = StatusFailed
	}
	if err := routeTx(ctx, tx, m.ID, status, rows, events); err != nil {
		return "", err
	}
	for _, e := range configErrors {
		if err := raiseException(ctx, tx, e); err != nil {
			return "", err
		}
	}
	if len(jobs) > 0 {
		client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if err != nil {
			return "", fmt.Errorf("enqueue deliveries: %w", err)
		}
		if _, err := client.InsertManyTx(ctx, tx, jobs); err != nil {
			return "", fmt.Errorf("enqueue deliveries: %w", err)
		}
	}
	return outcome, nil
}

// deliveryRows are the deliveries of a routed message, column by column
// for one unnest insert.
type deliveryRows struct {
	ids                                   []uuid.UUID
	routes, targets, kinds, bodies, stats []string
	lastErrors                            []string
}

func (d *deliveryRows) add(id uuid.UUID, route, target, kind, body string, status DeliveryStatus, lastError string) {
	d.ids = append(d.ids, id)
	d.routes, d.targets, d.kinds = append(d.routes, route), append(d.targets, target), append(d.kinds, kind)
	d.bodies, d.stats, d.lastErrors = append(d.bodies, body), append(d.stats, string(status)), append(d.lastErrors, lastError)
}

// routeTx writes a routed message in one statement: it claims the message
// (the status update, see claimSQL), inserts its deliveries and its lineage
// events in order. The foreign keys between the three are checked at the
// end of the statement, so the lineage may name deliveries inserted beside
// it.
func routeTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, status MessageStatus, d deliveryRows, events []lineage) error {
	l, err := lineageColumns(events)
	if err != nil {
		return err
	}
	var claimed int
	err = tx.QueryRow(ctx, `
		with m as (
			update messages set status = $2, updated_at = now() where id = $1 and status = 'received' returning id
		), d as (
			insert into deliveries (id, message_id, route, target, target_kind, body, status, last_error)
			select u.id, m.id, u.route, u.target, u.kind, u.body::json, u.status, u.last_error
			from m, unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
				as u(id, route, target, kind, body, status, last_error)
		), l as (
			insert into lineage_events (message_id, delivery_id, at, stage, detail, duration_ms)
			select m.id, u.d, u.a, u.s, u.x::jsonb, u.n
			from m, unnest($10::uuid[], $11::timestamptz[], $12::text[], $13::text[], $14::int8[])
				with ordinality as u(d, a, s, x, n, o)
			order by u.o
		)
		select count(*) from m`,
		id, status, d.ids, d.routes, d.targets, d.kinds, d.bodies, d.stats, d.lastErrors,
		l.deliveryIDs, l.ats, l.stages, l.details, l.durations).Scan(&claimed)
	if err != nil {
		return fmt.Errorf("route message %s: %w", id, err)
	}
	if claimed == 0 {
		return errProcessed
	}
	return nil
}

func reject(ctx context.Context, tx pgx.Tx, id uuid.UUID, e Exception, detail any, at time.Time) error {
	if err := claim(ctx, tx, id, StatusRejected); err != nil {
		return err
	}
	if err := addLineage(ctx, tx, id, lineage{at: at, stage: StageRejected, detail: detail}); err != nil {
		return err
	}
	if err := raiseException(ctx, tx, e); err != nil {
		return err
	}
	return nil
}

// fail records a mapping failure; validated says the payload passed
// validation first (a lineage event before the failure).
func fail(ctx context.Context, tx pgx.Tx, id uuid.UUID, e Exception, detail any, at time.Time, took time.Duration, validated bool) error {
	if err := claim(ctx, tx, id, StatusFailed); err != nil {
		return err
	}
	events := []lineage{{at: at, stage: StageFailed, detail: detail, duration: &took}}
	if validated {
		events = append([]lineage{{at: at, stage: StageValidated}}, events...)
	}
	if err := addLineage(ctx, tx, id, events...); err != nil {
		return err
	}
	if err := raiseException(ctx, tx, e); err != nil {
		return err
	}
	return nil
}

// completeTx marks the job completed inside tx, so the job's outcome and
// the rows it wrote commit together (River is at-least-once).
func completeTx[T river.JobArgs](ctx context.Context, tx pgx.Tx, job *river.Job[T]) error {
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	return nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

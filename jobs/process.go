package jobs

import (
	"cmp"
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

// ProcessWorker validates, maps and routes the messages of a process job
// on the versions they arrived on, then writes lineage, delivery rows and
// one deliver job per matched route in one transaction that also completes
// the job. It is safe to run twice: a message no longer in status received
// is left alone. When the group's transaction fails, each message is
// written in a transaction of its own, so one message the database refuses
// cannot hold up the others.
type ProcessWorker struct {
	river.WorkerDefaults[ProcessArgs]
	DB     DB
	Logger *slog.Logger
}

// processRun is one message mapped, waiting to be recorded.
type processRun struct {
	m          Message
	configured map[string]bool
	prog       *compiled
	res        *engine.Result
	runErr     error
	took       time.Duration
}

// Work processes the job's messages.
func (w *ProcessWorker) Work(ctx context.Context, job *river.Job[ProcessArgs]) error {
	inputs, err := processInputs(ctx, w.DB, job.Args.MessageIDs)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return river.JobCancel(fault.Errorf(fault.NotFound, "none of the job's %d messages exists", len(job.Args.MessageIDs))) // deleted (retention); retrying cannot help
	}
	runs := make([]processRun, 0, len(inputs))
	for _, in := range inputs {
		if in.m.Status != StatusReceived {
			continue
		}
		prog, err := programs.get(ctx, w.DB, in.m.FlowID, in.m.VersionNumber, in.m.Checksum)
		if err != nil {
			return err
		}
		start := time.Now()
		res, runErr := prog.program.Run(ctx, engine.Input{Payload: in.m.Payload, Now: in.m.ReceivedAt, Vars: in.vars})
		took := time.Since(start)
		if runErr != nil && !errors.Is(runErr, engine.ErrInvalidInput) && !errors.Is(runErr, engine.ErrLimit) {
			return fmt.Errorf("map message %s: %w", in.m.ID, runErr) // cancelled: River retries
		}
		runs = append(runs, processRun{m: in.m, configured: in.configured, prog: prog, res: res, runErr: runErr, took: took})
	}

	err = txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		if err := genericPlans(ctx, tx); err != nil {
			return err
		}
		if err := w.recordAll(ctx, tx, runs, job.Args.Retry); err != nil {
			return err
		}
		return completeTx(ctx, tx, job)
	})
	if err == nil || len(runs) < 2 || ctx.Err() != nil {
		return err
	}
	w.log(nil).Warn("processing a group failed; processing its messages one by one", "job_id", job.ID, "messages", len(runs), "error", err)
	var firstErr error
	for _, r := range runs {
		err := txn.Run(ctx, w.DB, func(tx pgx.Tx) error { return w.recordAll(ctx, tx, []processRun{r}, job.Args.Retry) })
		if err != nil {
			w.log(&r.m).Error("processing failed", "error", err)
			firstErr = cmp.Or(firstErr, err)
		}
	}
	return firstErr // River retries the job; messages already processed are skipped
}

// recordAll records each run and enqueues the first attempts of every
// delivery they made as DeliverGroupArgs jobs. retry marks an inbox retry:
// a message that now routes resolves its validation and mapping exceptions.
// Routed messages, nearly all of them, are written together in one
// statement (routeAll): a group of 128 written one statement at a time kept
// its transaction open for 128 round trips.
func (w *ProcessWorker) recordAll(ctx context.Context, tx pgx.Tx, runs []processRun, retry bool) error {
	var plans []*routePlan
	outcomes := make([]string, len(runs))
	for i, r := range runs {
		outcome, plan, err := w.record(ctx, tx, r.m, r.prog, r.res, r.runErr, r.took, r.configured)
		switch {
		case errors.Is(err, errProcessed):
			outcome = "already processed"
		case err != nil:
			return err
		case plan != nil:
			plan.run = i
			plans = append(plans, plan)
		}
		outcomes[i] = outcome
	}
	claimed, err := routeAll(ctx, tx, plans)
	if err != nil {
		return err
	}
	var ids []uuid.UUID
	for _, p := range plans {
		if !claimed[p.id] {
			outcomes[p.run] = "already processed"
			continue
		}
		for _, e := range p.configErrors {
			if err := raiseException(ctx, tx, e); err != nil {
				return err
			}
		}
		ids = append(ids, p.deliveries...)
	}
	processed := make([]uuid.UUID, len(runs))
	for i, r := range runs {
		processed[i] = r.m.ID
	}
	if err := recordPayloadValues(ctx, tx, processed); err != nil {
		return err
	}
	for i, r := range runs {
		if retry && (outcomes[i] == "routed" || outcomes[i] == "unrouted") {
			if err := resolveProcessExceptions(ctx, tx, r.m.ID); err != nil { // an inbox retry worked
				return err
			}
		}
		w.log(&r.m).Debug("processed", "outcome", outcomes[i], "took", r.took)
	}
	if len(ids) == 0 {
		return nil
	}
	var deliveries []river.InsertManyParams
	for chunk := range slices.Chunk(ids, ProcessGroupSize) {
		deliveries = append(deliveries, river.InsertManyParams{Args: DeliverGroupArgs{DeliveryIDs: chunk}})
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("enqueue deliveries: %w", err)
	}
	if _, err := client.InsertManyFastTx(ctx, tx, deliveries); err != nil {
		return fmt.Errorf("enqueue deliveries: %w", err)
	}
	return nil
}

// log returns the worker's logger, with the message's ids when m is set.
func (w *ProcessWorker) log(m *Message) *slog.Logger {
	l := logger(w.Logger)
	if m != nil {
		l = l.With("message_id", m.ID, "correlation_id", m.CorrelationID, "flow", m.FlowSlug, "env", m.Environment)
	}
	return l
}

// processInput is a message with what mapping it needs from its
// environment: the variables and the names of the configured targets.
type processInput struct {
	m          Message
	vars       map[string]string
	configured map[string]bool
}

// processInputs reads, in one round trip, the messages with their
// environments' variables and configured targets. Messages that no longer
// exist (retention) are left out.
func processInputs(ctx context.Context, db mappings.DBTX, ids []uuid.UUID) ([]processInput, error) {
	// Messages are found by id alone: an earlier form found their
	// environments with a semi-join on messages, which the planner, with
	// the statistics of a table that had just grown, ran as a scan of every
	// message of the environment (30 ms a group under load).
	rows, err := db.Query(ctx, `
		select m.id, m.environment_id, e.name, m.flow_id, f.slug, m.version_number, m.checksum, m.idempotency_key,
		       m.correlation_id, m.payload, m.status, m.received_at, m.updated_at,
		       (select coalesce(jsonb_object_agg(v.name, v.value), '{}') from environment_variables v where v.environment_id = m.environment_id),
		       (select coalesce(array_agg(t.target_name), '{}') from target_configs t where t.environment_id = m.environment_id)
		from messages m join environments e on e.id = m.environment_id join flows f on f.id = m.flow_id
		where m.id = any($1)
		order by m.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("messages to process: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (processInput, error) {
		var in processInput
		var payload []byte
		var targets []string
		err := r.Scan(&in.m.ID, &in.m.EnvironmentID, &in.m.Environment, &in.m.FlowID, &in.m.FlowSlug, &in.m.VersionNumber, &in.m.Checksum,
			&in.m.IdempotencyKey, &in.m.CorrelationID, &payload, &in.m.Status, &in.m.ReceivedAt, &in.m.UpdatedAt, &in.vars, &targets)
		in.m.Payload = payload
		in.configured = make(map[string]bool, len(targets))
		for _, n := range targets {
			in.configured[n] = true
		}
		return in, err
	})
	if err != nil {
		return nil, fmt.Errorf("messages to process: %w", err)
	}
	return out, nil
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

// routePlan is what processing made of a routed message: its status,
// deliveries, lineage and the configuration exceptions to raise once the
// message is claimed. routeAll writes the plans of a group together.
type routePlan struct {
	id           uuid.UUID
	run          int // index into recordAll's runs
	status       MessageStatus
	rows         deliveryRows
	events       []lineage
	configErrors []Exception
	deliveries   []uuid.UUID // pending: the first attempts to enqueue
}

// record writes what the run made of a message that failed validation or
// mapping at once; a routed message is returned as a plan for routeAll. It
// also returns a word for the log.
func (w *ProcessWorker) record(ctx context.Context, tx pgx.Tx, m Message, prog *compiled, res *engine.Result, runErr error, took time.Duration, configured map[string]bool) (string, *routePlan, error) {
	now := time.Now()
	base := Exception{EnvironmentID: m.EnvironmentID, FlowID: m.FlowID, MessageID: m.ID}
	switch {
	case errors.Is(runErr, engine.ErrInvalidInput):
		e := base
		e.Kind, e.Stage, e.ErrorClass, e.Message = ExceptionValidation, "validate", "invalid JSON", "the payload is not a JSON document: "+runErr.Error()
		return "rejected", nil, reject(ctx, tx, m.ID, e, map[string]any{"error": runErr.Error()}, now)
	case errors.Is(runErr, engine.ErrLimit):
		e := base
		e.Kind, e.Stage, e.ErrorClass, e.Message = ExceptionMapping, "map", "limit", runErr.Error()
		return "failed", nil, fail(ctx, tx, m.ID, e, map[string]any{"error": runErr.Error()}, now, took, false)
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
		return "rejected", nil, reject(ctx, tx, m.ID, e, map[string]any{"validation": res.Validation}, now)
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
		return "failed", nil, fail(ctx, tx, m.ID, e, map[string]any{"errors": rowErrors}, now, took, true)
	}

	var matched []string
	plan := &routePlan{id: m.ID}
	plan.events = []lineage{
		{at: now, stage: StageValidated},
		{at: now, stage: StageMapped, duration: &took},
	}
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
			return "", nil, fmt.Errorf("delivery id: %w", err)
		}
		status, lastError := DeliveryPending, ""
		if kind == engine.TargetHTTP && !configured[r.Target] {
			status, lastError = DeliveryFailed, "target not configured"
			e := base
			e.DeliveryID = &id
			e.Kind, e.Stage, e.ErrorClass = ExceptionConfiguration, "route", "target not configured: "+r.Target
			e.Message = fmt.Sprintf("target “%s” (route %s) is not configured in this environment; set its URL on the Environments page, then retry", r.Target, r.Name)
			plan.configErrors = append(plan.configErrors, e)
		}
		plan.rows.add(id, r.Name, r.Target, kind, string(r.Output), status, lastError)
		if status == DeliveryPending {
			plan.deliveries = append(plan.deliveries, id)
		} else {
			plan.events = append(plan.events, lineage{deliveryID: &id, at: now, stage: StageFailed,
				detail: map[string]any{"route": r.Name, "target": r.Target, "error": "target not configured"}})
		}
	}
	if matched == nil {
		matched = []string{}
	}
	plan.events = append(plan.events, lineage{at: now, stage: StageRouted, detail: map[string]any{"routes": matched}})
	if len(plan.deliveries) > 0 {
		plan.events = append(plan.events, lineage{at: now, stage: StageQueued, detail: map[string]any{"deliveries": plan.deliveries}})
	}
	// The message's status follows from the deliveries written here: any
	// failed (a target not configured) → failed, else queued; no route →
	// unrouted.
	plan.status = StatusQueued
	outcome := "routed"
	switch {
	case len(matched) == 0:
		plan.status, outcome = StatusUnrouted, "unrouted"
	case len(plan.configErrors) > 0:
		plan.status = StatusFailed
	}
	return outcome, plan, nil
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

// routeAll writes routed messages in one statement: it claims them (the
// status update, see claimSQL), inserts their deliveries and their lineage
// events in order, and returns the ids it claimed; a message missing from
// the answer was processed by another run first. The lineage may name
// deliveries inserted beside it (lineage has no foreign keys, migration
// 014; the deliveries' key to the message is checked at the end of the
// statement).
func routeAll(ctx context.Context, tx pgx.Tx, plans []*routePlan) (map[uuid.UUID]bool, error) {
	if len(plans) == 0 {
		return nil, nil
	}
	var (
		ids      = make([]uuid.UUID, len(plans))
		statuses = make([]string, len(plans))
		d        deliveryRows
		dMsgs    []uuid.UUID
		events   []lineage
		lMsgs    []uuid.UUID
	)
	for i, p := range plans {
		ids[i], statuses[i] = p.id, string(p.status)
		for range p.rows.ids {
			dMsgs = append(dMsgs, p.id)
		}
		d.ids, d.routes, d.targets = append(d.ids, p.rows.ids...), append(d.routes, p.rows.routes...), append(d.targets, p.rows.targets...)
		d.kinds, d.bodies, d.stats = append(d.kinds, p.rows.kinds...), append(d.bodies, p.rows.bodies...), append(d.stats, p.rows.stats...)
		d.lastErrors = append(d.lastErrors, p.rows.lastErrors...)
		for range p.events {
			lMsgs = append(lMsgs, p.id)
		}
		events = append(events, p.events...)
	}
	l, err := lineageColumns(events)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `
		with m as (
			update messages set status = u.status, updated_at = now()
			from unnest($1::uuid[], $2::text[]) as u(id, status)
			where messages.id = any($1) and messages.id = u.id and messages.status = 'received'
			returning messages.id
		), d as (
			insert into deliveries (id, message_id, route, target, target_kind, body, status, last_error)
			select u.id, m.id, u.route, u.target, u.kind, u.body::json, u.status, u.last_error
			from unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
				as u(id, message_id, route, target, kind, body, status, last_error)
			join m on m.id = u.message_id
		), l as (
			insert into lineage_events (message_id, delivery_id, at, stage, detail, duration_ms)
			select m.id, u.d, u.a, u.s, u.x::jsonb, u.n
			from unnest($11::uuid[], $12::uuid[], $13::timestamptz[], $14::text[], $15::text[], $16::int8[])
				with ordinality as u(message_id, d, a, s, x, n, o)
			join m on m.id = u.message_id
			order by u.o
		)
		select id from m`,
		ids, statuses, d.ids, dMsgs, d.routes, d.targets, d.kinds, d.bodies, d.stats, d.lastErrors,
		lMsgs, l.deliveryIDs, l.ats, l.stages, l.details, l.durations)
	if err != nil {
		return nil, fmt.Errorf("route %d messages: %w", len(plans), err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("route %d messages: %w", len(plans), err)
	}
	claimed := make(map[uuid.UUID]bool, len(got))
	for _, id := range got {
		claimed[id] = true
	}
	return claimed, nil
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

// genericPlans makes the rest of tx run its prepared statements on their
// cached generic plans. The pipeline's writes find their rows by id, which
// a generic plan does as well as a custom one, but PostgreSQL otherwise
// plans each execution again whenever its estimate favours custom plans:
// River's job completion alone was planned afresh every time (about 1 ms
// of a 3 ms statement under load, docs/benchmarks.md).
func genericPlans(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `set local plan_cache_mode = force_generic_plan`); err != nil {
		return fmt.Errorf("plan cache mode: %w", err)
	}
	return nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

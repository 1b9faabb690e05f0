package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/program"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/jobs/transport"
)

// ProcessWorker validates, maps and routes the messages of a process job
// on the versions they arrived on, then writes lineage, delivery rows and
// the jobs of the deliveries in one transaction that also completes the
// job. It is safe to run twice: a message no longer in status received is
// left alone. When the group's transaction fails, each message is written
// in a transaction of its own, so one message the database refuses cannot
// hold up the others.
//
// With Deliver set, the job also makes the first attempts of its http
// deliveries itself, before that transaction, when their targets have been
// answering quickly, and writes the deliveries already delivered: the
// common case then costs one job and one commit instead of two of each,
// and one status update of the message instead of two. The rest (slow
// targets, rate limits, open circuits, capture targets) go to the deliver
// queue as before. A delivery's id, its Idempotency-Key, is derived from
// its message and route (DeliveryID), so a run that sent and then died
// before committing sends again under the same key.
type ProcessWorker struct {
	river.WorkerDefaults[intake.ProcessArgs]
	DB     store.DB
	Logger *slog.Logger
	// Deliver, when set, sends first attempts from the process job.
	Deliver *DeliverWorker
	// Transports say which target kinds need configuration; nil means
	// Deliver's, or without Deliver Transports(DB, nil).
	Transports *transport.Registry

	defaultTransports sync.Once
}

// transports returns the registry the worker plans deliveries with.
func (w *ProcessWorker) transports() *transport.Registry {
	w.defaultTransports.Do(func() {
		switch {
		case w.Transports != nil:
		case w.Deliver != nil:
			w.Transports = w.Deliver.Transports
		default:
			w.Transports = Transports(w.DB, nil)
		}
	})
	return w.Transports
}

// Timeout leaves room for first attempts when the job makes them: as
// long as a deliver job's.
func (w *ProcessWorker) Timeout(*river.Job[intake.ProcessArgs]) time.Duration {
	if w.Deliver != nil {
		return w.Deliver.jobTimeout()
	}
	return 0 // River's default
}

// processRun is one message mapped, waiting to be recorded.
type processRun struct {
	m          store.Message
	configured map[string]bool
	prog       *program.Compiled
	res        *engine.Result
	runErr     error
	took       time.Duration
	// plan is what a routed message is to be written as; nil when the
	// message failed validation or mapping (record writes those).
	plan *routePlan
	// laneFree: the message has a sequence key and no earlier message of
	// its key is unfinished, so its deliveries need not wait (freeLanes).
	laneFree bool
}

// Work processes the job's messages.
func (w *ProcessWorker) Work(ctx context.Context, job *river.Job[intake.ProcessArgs]) error {
	inputs, err := processInputs(ctx, w.DB, job.Args.MessageIDs)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return river.JobCancel(fault.Errorf(fault.NotFound, "none of the job's %d messages exists", len(job.Args.MessageIDs))) // deleted (retention); retrying cannot help
	}
	free, err := freeLanes(ctx, w.DB, inputs)
	if err != nil {
		return err
	}
	runs := make([]processRun, 0, len(inputs))
	kinds := w.transports()
	for _, in := range inputs {
		if in.m.Status != store.StatusReceived {
			continue
		}
		prog, err := program.Load(ctx, w.DB, in.m.FlowID, in.m.VersionNumber, in.m.Checksum)
		if err != nil {
			return err
		}
		start := time.Now()
		res, runErr := program.Run(ctx, prog.Program, engine.Input{Payload: in.m.Payload, Now: in.m.ReceivedAt, Vars: in.vars})
		took := time.Since(start)
		if runErr != nil && !errors.Is(runErr, engine.ErrInvalidInput) && !errors.Is(runErr, engine.ErrLimit) {
			return fmt.Errorf("map message %s: %w", in.m.ID, runErr) // cancelled: River retries
		}
		r := processRun{m: in.m, configured: in.configured, prog: prog, res: res, runErr: runErr, took: took, laneFree: free[in.m.ID]}
		r.plan = planRoutes(r, kinds)
		runs = append(runs, r)
	}
	sends, err := w.sendFirstAttempts(ctx, runs)
	if err != nil {
		return err
	}
	if len(sends) > 0 {
		ctx = context.WithoutCancel(ctx) // the attempts happened: record them even when shutdown cancels ctx
	}

	// The processing transaction commits synchronously, like every other.
	// An asynchronous commit can be lost in a crash of PostgreSQL while the
	// job still ends completed: River's completer completes it on its own
	// once Work returns, retrying through the outage, and finds it running
	// again, so the lost work would never be redone and its messages would
	// stay received (the database-outage e2e test fails with one;
	// docs/reliability.md).
	err = txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		if err := genericPlans(ctx, tx); err != nil {
			return err
		}
		if err := w.recordAll(ctx, tx, runs, job.Args.Retry); err != nil {
			return err
		}
		return completeTx(ctx, tx, job)
	})
	if err == nil {
		if w.Deliver != nil {
			w.Deliver.firstAttemptsRecorded(ctx, sends)
		}
		return nil
	}
	if len(runs) < 2 || ctx.Err() != nil {
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
	if firstErr == nil && w.Deliver != nil {
		w.Deliver.firstAttemptsRecorded(ctx, sends)
	}
	return firstErr // River retries the job; messages already processed are skipped
}

// sendFirstAttempts makes, when the worker has a Deliver, the first
// attempts of the runs' deliveries of grouped kinds
// (transport.Traits.Grouped) whose targets answer quickly, and
// notes each outcome on its plan (routePlan.sent) for recordAll.
func (w *ProcessWorker) sendFirstAttempts(ctx context.Context, runs []processRun) ([]*groupSend, error) {
	if w.Deliver == nil {
		return nil, nil
	}
	var firsts []pendingDelivery
	for _, r := range runs {
		p := r.plan
		if p == nil {
			continue
		}
		for i, id := range p.rows.ids {
			if p.rows.stats[i] != string(store.DeliveryPending) || !w.Deliver.Transports.Grouped(transport.Kind(p.rows.kinds[i])) {
				continue
			}
			if r.prog.Program.KeepsAnswer(p.rows.routes[i]) {
				// Its answer feeds steps or a reply: recordAttempts
				// stores it, so it goes the deliver jobs' way.
				continue
			}
			firsts = append(firsts, pendingDelivery{
				Delivery: store.Delivery{ID: id, MessageID: r.m.ID, Route: p.rows.routes[i], Target: p.rows.targets[i], TargetKind: p.rows.kinds[i],
					Body: json.RawMessage(p.rows.bodies[i]), Status: store.DeliveryPending},
				envID: r.m.EnvironmentID, flowID: r.m.FlowID, correlationID: r.m.CorrelationID, receivedAt: r.m.ReceivedAt,
			})
		}
	}
	if len(firsts) == 0 {
		return nil, nil
	}
	sends, _, err := w.Deliver.prepareFirstAttempts(ctx, firsts, true)
	if err != nil {
		return nil, err
	}
	w.Deliver.sendFirstAttempts(ctx, sends) // an attempt not made leaves its delivery to a DeliverGroupArgs job
	bySend := make(map[uuid.UUID]*groupSend, len(sends))
	for _, s := range sends {
		bySend[s.d.ID] = s
	}
	for _, r := range runs {
		if r.plan != nil {
			r.plan.noteSent(bySend)
		}
	}
	return sends, nil
}

// recordAll records each run and enqueues what its deliveries still need:
// a DeliverGroupArgs job for the first attempts not made yet, a DeliverArgs
// job for each first attempt to be tried again. retry marks an inbox retry:
// a message that now routes resolves its validation and mapping exceptions.
// Routed messages, nearly all of them, are written together in one
// statement (routeAll): a group of 128 written one statement at a time kept
// its transaction open for 128 round trips.
func (w *ProcessWorker) recordAll(ctx context.Context, tx pgx.Tx, runs []processRun, retry bool) error {
	// Messages with a sequence key: their deliveries are written held and
	// their lanes woken at the end. A group holds many lanes; waiting for
	// their locks, before or after its work, made groups sharing keys
	// queue behind each other lane by lane and every delivery of those
	// keys behind them, until under load process jobs timed out waiting
	// (the sequence crash test in e2e). So the group takes only the locks
	// that are free (tryLockLanes) and wakes those lanes here, under the
	// locks after its writes; a busy lane is woken by a SequenceWakeArgs
	// job inserted in this transaction, which runs after the commit and
	// waits for the lane. Either way the wake-up sees this transaction's
	// held deliveries and whatever the lane's holder did. Nothing that
	// holds a lane waits for the rows written here: they are new
	// deliveries, invisible until commit, and messages that were
	// received, which a wake-up does not touch.
	var lanes []Lane
	for _, r := range runs {
		if l, ok := laneOf(r.m); ok {
			lanes = append(lanes, l)
		}
	}
	var plans []*routePlan
	outcomes := make([]string, len(runs))
	for i, r := range runs {
		if r.plan != nil {
			r.plan.run = i
			plans = append(plans, r.plan)
			outcomes[i] = r.plan.outcome
			continue
		}
		outcome, err := w.record(ctx, tx, r.m, r.res, r.runErr, r.took)
		switch {
		case errors.Is(err, errProcessed):
			outcome = "already processed"
		case err != nil:
			return err
		}
		outcomes[i] = outcome
	}
	claimed, err := routeAll(ctx, tx, plans)
	if err != nil {
		return err
	}
	var waiting []uuid.UUID
	var other []*groupSend // first attempts made that did not deliver
	for _, p := range plans {
		if !claimed[p.id] {
			outcomes[p.run] = "already processed"
			continue
		}
		for _, e := range p.configErrors {
			if err := store.RaiseException(ctx, tx, e); err != nil {
				return err
			}
		}
		waiting = append(waiting, p.waiting()...)
		other = append(other, p.other()...)
	}
	var recorded []store.Message // routeAll wrote the values of the others
	for _, r := range runs {
		if r.plan == nil {
			recorded = append(recorded, r.m)
		}
	}
	if err := store.RecordPayloadValues(ctx, tx, recorded); err != nil {
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
	later, err := recordFirstAttempts(ctx, tx, other)
	if err != nil {
		return err
	}
	if err := insertJobs(ctx, tx, later, false); err != nil {
		return err
	}
	free, busy, err := tryLockLanes(ctx, tx, lanes)
	if err != nil {
		return err
	}
	released, err := wakeLanes(ctx, tx, free)
	if err != nil {
		return err
	}
	if len(busy) > 0 {
		if err := insertJobs(ctx, tx, []river.InsertManyParams{{Args: SequenceWakeArgs{Lanes: busy}}}, false); err != nil {
			return err
		}
	}
	return insertJobs(ctx, tx, deliverJobs(append(waiting, released...)), true)
}

// freeLanes returns which of the inputs' messages with a sequence key
// (in fifo mode) have no unfinished earlier message of their key: nothing
// can block them, so they are written pending and make their first
// attempts in the process job like unordered messages, instead of being
// written held, released by the lane's wake-up and sent by a deliver
// group job of their own. With many distinct keys that is nearly every
// message (make bench-load BENCH_SEQUENCE=1). It reads without the lanes'
// locks: an earlier message, once finished, does not become unfinished
// (a person can only retry or replay one that failed and blocks), so a
// message found free stays free; one found blocked is written held and
// woken as before. Latest mode always holds, so that messages waiting
// together are coalesced.
func freeLanes(ctx context.Context, db txn.DBTX, inputs []processInput) (map[uuid.UUID]bool, error) {
	var ids []uuid.UUID
	for _, in := range inputs {
		if in.m.SequenceKey != "" && in.m.Status == store.StatusReceived {
			ids = append(ids, in.m.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := db.Query(ctx, lanesFreeSelect, ids)
	if err != nil {
		return nil, fmt.Errorf("free sequence lanes: %w", err)
	}
	free, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("free sequence lanes: %w", err)
	}
	out := make(map[uuid.UUID]bool, len(free))
	for _, id := range free {
		out[id] = true
	}
	return out, nil
}

// log returns the worker's logger, with the message's ids when m is set.
func (w *ProcessWorker) log(m *store.Message) *slog.Logger {
	l := logger(w.Logger)
	if m != nil {
		l = l.With("message_id", m.ID, "correlation_id", m.CorrelationID, "flow", m.FlowSlug, "env", m.Environment)
	}
	return l
}

// processInput is a message with what mapping it needs from its
// environment: the variables and the names of the configured targets.
type processInput struct {
	m          store.Message
	vars       map[string]string
	configured map[string]bool
}

// processInputs reads, in one round trip, the messages with their
// environments' variables and configured targets. Messages that no longer
// exist (retention) are left out.
func processInputs(ctx context.Context, db txn.DBTX, ids []uuid.UUID) ([]processInput, error) {
	// Messages are found by id alone, not through a semi-join on messages:
	// with the statistics of a table that has just grown, the planner runs
	// such a join as a scan of every message of the environment (30 ms a
	// group under load).
	rows, err := db.Query(ctx, processInputsSelect, ids)
	if err != nil {
		return nil, fmt.Errorf("messages to process: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (processInput, error) {
		var in processInput
		var payload []byte
		var targets []string
		err := r.Scan(&in.m.ID, &in.m.EnvironmentID, &in.m.Environment, &in.m.FlowID, &in.m.FlowSlug, &in.m.VersionNumber, &in.m.Checksum,
			&in.m.IdempotencyKey, &in.m.CorrelationID, &payload, &in.m.Status, &in.m.ReceivedAt, &in.m.UpdatedAt, &in.m.SequenceKey, &in.vars, &targets)
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

func claim(ctx context.Context, tx pgx.Tx, id uuid.UUID, status store.MessageStatus) error {
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
	run          int    // index into recordAll's runs
	outcome      string // for the log: routed or unrouted
	status       store.MessageStatus
	rows         deliveryRows
	events       []store.Lineage
	configErrors []store.Exception
	// values is what the explorer's payload search finds of the message
	// (PayloadValuesOf), written with it.
	values string
	// sent holds the first attempts the process job made, by delivery
	// (noteSent); a pending delivery without one waits for a
	// DeliverGroupArgs job.
	sent map[uuid.UUID]*groupSend
}

// record writes what the run made of a message that failed validation or
// mapping, and returns a word for the log.
func (w *ProcessWorker) record(ctx context.Context, tx pgx.Tx, m store.Message, res *engine.Result, runErr error, took time.Duration) (string, error) {
	now := time.Now()
	base := store.Exception{EnvironmentID: m.EnvironmentID, FlowID: m.FlowID, MessageID: m.ID}
	switch {
	case errors.Is(runErr, engine.ErrInvalidInput):
		e := base
		e.Kind, e.Stage, e.ErrorClass, e.Message = store.ExceptionValidation, "validate", "invalid JSON", "the payload is not a JSON document: "+runErr.Error()
		return "rejected", reject(ctx, tx, m.ID, e, map[string]any{"error": runErr.Error()}, now)
	case errors.Is(runErr, engine.ErrLimit):
		e := base
		e.Kind, e.Stage, e.ErrorClass, e.Message = store.ExceptionMapping, "map", "limit", runErr.Error()
		return "failed", fail(ctx, tx, m.ID, e, map[string]any{"error": runErr.Error()}, now, took, false)
	case !res.Valid():
		rules := make([]string, len(res.Validation))
		msgs := make([]string, len(res.Validation))
		for i, f := range res.Validation {
			rules[i], msgs[i] = f.Rule, f.Message
		}
		slices.Sort(rules)
		e := base
		e.Kind, e.Stage, e.ErrorClass = store.ExceptionValidation, "validate", "rule "+strings.Join(rules, ", ")
		e.Message = strings.Join(msgs, "; ")
		e.Detail, _ = json.Marshal(map[string]any{"validation": res.Validation})
		return "rejected", reject(ctx, tx, m.ID, e, map[string]any{"validation": res.Validation}, now)
	}
	rowErrors := mappingErrors(res)
	first := rowErrors[0]
	e := base
	e.Kind, e.Stage = store.ExceptionMapping, "map"
	e.ErrorClass = strings.TrimSpace(string(first.Section) + " " + first.Route + " " + store.ItemIndex.ReplaceAllString(first.Path, "[]"))
	e.Message = first.String()
	e.Detail, _ = json.Marshal(map[string]any{"errors": rowErrors})
	return "failed", fail(ctx, tx, m.ID, e, map[string]any{"errors": rowErrors}, now, took, true)
}

// mappingErrors are the row errors of a run, of its sections and routes.
func mappingErrors(res *engine.Result) []engine.RowError {
	var rowErrors []engine.RowError
	rowErrors = append(rowErrors, res.Errors...)
	for _, r := range res.Routes {
		rowErrors = append(rowErrors, r.Errors...)
	}
	return rowErrors
}

// planRoutes returns the plan of a run that routed its message, or nil when
// the message failed validation or mapping.
func planRoutes(r processRun, kinds *transport.Registry) *routePlan {
	if r.runErr != nil || !r.res.Valid() || len(mappingErrors(r.res)) > 0 {
		return nil
	}
	now := time.Now()
	m := r.m
	base := store.Exception{EnvironmentID: m.EnvironmentID, FlowID: m.FlowID, MessageID: m.ID}
	took := r.took
	var matched []string
	plan := &routePlan{id: m.ID, values: store.PayloadValuesOf(m.Payload)}
	plan.events = []store.Lineage{
		{At: now, Stage: store.StageValidated},
		{At: now, Stage: store.StageMapped, Duration: &took},
	}
	var pending []uuid.UUID
	for _, route := range r.res.Routes {
		if !route.Matched {
			continue
		}
		matched = append(matched, route.Name)
		kind := r.prog.Kinds[route.Target]
		if kind == "" {
			kind = engine.TargetHTTP // the definition format's default
		}
		id := store.DeliveryID(m.ID, route.Name)
		status, lastError := store.DeliveryPending, ""
		if m.SequenceKey != "" && !r.laneFree {
			status = store.DeliveryHeld // until its lane releases it (sequence.go)
		}
		// A kind no transport serves is left to the deliver job, which
		// fails it with a configuration exception that says so.
		if needed, known := kinds.NeedsConfiguration(string(kind)); known && needed && !r.configured[route.Target] {
			status, lastError = store.DeliveryFailed, "target not configured"
			e := base
			e.DeliveryID = &id
			e.Kind, e.Stage, e.ErrorClass = store.ExceptionConfiguration, "route", "target not configured: "+route.Target
			e.Message = fmt.Sprintf("target “%s” (route %s) is not configured in this environment; set its URL on the Environments page, then retry", route.Target, route.Name)
			plan.configErrors = append(plan.configErrors, e)
		}
		plan.rows.add(id, route.Name, route.Target, string(kind), string(route.Output), status, lastError)
		if status != store.DeliveryFailed {
			pending = append(pending, id)
		} else {
			plan.events = append(plan.events, store.Lineage{DeliveryID: &id, At: now, Stage: store.StageFailed,
				Detail: map[string]any{"route": route.Name, "target": route.Target, "error": "target not configured"}})
		}
	}
	if matched == nil {
		matched = []string{}
	}
	plan.events = append(plan.events, store.Lineage{At: now, Stage: store.StageRouted, Detail: map[string]any{"routes": matched}})
	switch {
	case len(pending) > 0 && m.SequenceKey != "" && !r.laneFree:
		plan.events = append(plan.events, store.Lineage{At: now, Stage: store.StageHeld, Detail: map[string]any{"deliveries": pending, "sequenceKey": m.SequenceKey}})
	case len(pending) > 0:
		plan.events = append(plan.events, store.Lineage{At: now, Stage: store.StageQueued, Detail: map[string]any{"deliveries": pending}})
	}
	// The message's status follows from the deliveries written here: any
	// failed (a target not configured) → failed, else queued (delivered
	// once noteSent finds every delivery delivered); no route → unrouted.
	plan.status, plan.outcome = store.StatusQueued, "routed"
	switch {
	case len(matched) == 0:
		plan.status, plan.outcome = store.StatusUnrouted, "unrouted"
	case len(plan.configErrors) > 0:
		plan.status = store.StatusFailed
	case m.SequenceKey != "" && !r.laneFree:
		plan.status = store.StatusHeld // queued once wakeLanes releases a delivery
	}
	return plan
}

// noteSent records on the plan the first attempts made for its
// deliveries: a delivered one is written as delivered, with its attempt
// and its lineage as settle made them, and when all of them were
// delivered so is the message.
func (p *routePlan) noteSent(sends map[uuid.UUID]*groupSend) {
	p.sent = map[uuid.UUID]*groupSend{}
	all := true
	for i, id := range p.rows.ids {
		s := sends[id]
		if s == nil || s.rec == nil {
			all = false
			continue
		}
		p.sent[id] = s
		if !s.delivered() {
			all = false
			continue
		}
		r := s.rec
		windowFrom := r.windowFrom
		p.rows.stats[i], p.rows.attempts[i], p.rows.windowFrom[i] = string(store.DeliveryDelivered), int32(r.n), &windowFrom
		if r.res.StatusCode != 0 {
			code := int32(r.res.StatusCode)
			p.rows.codes[i] = &code
		}
		p.events = append(p.events, r.events...)
	}
	if all && p.status == store.StatusQueued {
		p.status = store.StatusDelivered
	}
}

// waiting are the plan's pending deliveries whose first attempt was not
// made: a DeliverGroupArgs job makes them.
func (p *routePlan) waiting() []uuid.UUID {
	var ids []uuid.UUID
	for i, id := range p.rows.ids {
		if p.rows.stats[i] == string(store.DeliveryPending) && p.sent[id] == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// other are the first attempts made for the plan that did not deliver;
// recordFirstAttempts records them on the rows routeAll wrote as pending.
func (p *routePlan) other() []*groupSend {
	var out []*groupSend
	for _, id := range p.rows.ids {
		if s := p.sent[id]; s != nil && !s.delivered() {
			out = append(out, s)
		}
	}
	return out
}

// deliveryRows are the deliveries of a routed message, column by column
// for one unnest insert.
type deliveryRows struct {
	ids                                   []uuid.UUID
	routes, targets, kinds, bodies, stats []string
	lastErrors                            []string
	// The first attempt of a delivery the process job delivered (attempts
	// 1, when it started, the status code), set by noteSent; 0, nil, nil
	// for the others.
	attempts   []int32
	windowFrom []*time.Time
	codes      []*int32
}

func (d *deliveryRows) add(id uuid.UUID, route, target, kind, body string, status store.DeliveryStatus, lastError string) {
	d.ids = append(d.ids, id)
	d.routes, d.targets, d.kinds = append(d.routes, route), append(d.targets, target), append(d.kinds, kind)
	d.bodies, d.stats, d.lastErrors = append(d.bodies, body), append(d.stats, string(status)), append(d.lastErrors, lastError)
	d.attempts, d.windowFrom, d.codes = append(d.attempts, 0), append(d.windowFrom, nil), append(d.codes, nil)
}

// routeAll writes routed messages in one statement: it claims them (the
// status update, see claimSQL), inserts their deliveries, their lineage
// events in order and their payload values, and returns the ids it
// claimed; a message missing from the answer was processed by another run
// first. The lineage may name deliveries inserted beside it (lineage has
// no foreign keys, migration 014; the deliveries' key to the message is
// checked at the end of the statement).
func routeAll(ctx context.Context, tx pgx.Tx, plans []*routePlan) (map[uuid.UUID]bool, error) {
	if len(plans) == 0 {
		return nil, nil
	}
	var (
		ids      = make([]uuid.UUID, len(plans))
		statuses = make([]string, len(plans))
		d        deliveryRows
		dMsgs    []uuid.UUID
		events   []store.Lineage
		lMsgs    []uuid.UUID
		a        attemptRows
		values   = make([]string, len(plans))
	)
	for i, p := range plans {
		ids[i], statuses[i], values[i] = p.id, string(p.status), p.values
		for _, id := range p.rows.ids {
			dMsgs = append(dMsgs, p.id)
			if s := p.sent[id]; s != nil && s.delivered() {
				a.add(p.id, s)
			}
		}
		d.ids, d.routes, d.targets = append(d.ids, p.rows.ids...), append(d.routes, p.rows.routes...), append(d.targets, p.rows.targets...)
		d.kinds, d.bodies, d.stats = append(d.kinds, p.rows.kinds...), append(d.bodies, p.rows.bodies...), append(d.stats, p.rows.stats...)
		d.lastErrors = append(d.lastErrors, p.rows.lastErrors...)
		d.attempts, d.windowFrom, d.codes = append(d.attempts, p.rows.attempts...), append(d.windowFrom, p.rows.windowFrom...), append(d.codes, p.rows.codes...)
		for range p.events {
			lMsgs = append(lMsgs, p.id)
		}
		events = append(events, p.events...)
	}
	l, err := store.LineageColumnsOf(events)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, routedMessagesUpdate,
		ids, statuses, d.ids, dMsgs, d.routes, d.targets, d.kinds, d.bodies, d.stats, d.lastErrors,
		lMsgs, l.DeliveryIDs, l.Ats, l.Stages, l.Details, l.Durations,
		d.attempts, d.windowFrom, d.codes,
		a.ids, a.messages, a.started, a.latency, a.codes, a.excerpts, values, a.n, a.outcomes)
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

// attemptRows are delivered first attempts column by column, for
// routeAll: it inserts their deliveries already delivered, so it writes
// the attempts (as settle made them) beside them instead of through
// recordAttempts, which updates deliveries that exist.
type attemptRows struct {
	ids, messages []uuid.UUID
	started       []time.Time
	latency       []int64
	codes         []*int32
	excerpts      []string
	n             []int32
	outcomes      []string
}

func (a *attemptRows) add(message uuid.UUID, s *groupSend) {
	r := s.rec
	var code *int32
	if r.res.StatusCode != 0 {
		c := int32(r.res.StatusCode)
		code = &c
	}
	a.ids, a.messages, a.started = append(a.ids, s.d.ID), append(a.messages, message), append(a.started, r.res.Started)
	a.latency, a.codes, a.excerpts = append(a.latency, r.res.Latency.Milliseconds()), append(a.codes, code), append(a.excerpts, r.res.Excerpt)
	a.n, a.outcomes = append(a.n, int32(r.n)), append(a.outcomes, r.outcome())
}

func reject(ctx context.Context, tx pgx.Tx, id uuid.UUID, e store.Exception, detail any, at time.Time) error {
	if err := claim(ctx, tx, id, store.StatusRejected); err != nil {
		return err
	}
	if err := store.AddLineage(ctx, tx, id, store.Lineage{At: at, Stage: store.StageRejected, Detail: detail}); err != nil {
		return err
	}
	if err := store.RaiseException(ctx, tx, e); err != nil {
		return err
	}
	return nil
}

// fail records a mapping failure; validated says the payload passed
// validation first (a lineage event before the failure).
func fail(ctx context.Context, tx pgx.Tx, id uuid.UUID, e store.Exception, detail any, at time.Time, took time.Duration, validated bool) error {
	if err := claim(ctx, tx, id, store.StatusFailed); err != nil {
		return err
	}
	events := []store.Lineage{{At: at, Stage: store.StageFailed, Detail: detail, Duration: &took}}
	if validated {
		events = append([]store.Lineage{{At: at, Stage: store.StageValidated}}, events...)
	}
	if err := store.AddLineage(ctx, tx, id, events...); err != nil {
		return err
	}
	if err := store.RaiseException(ctx, tx, e); err != nil {
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
// River's job completion alone is otherwise planned afresh every time (about 1 ms
// of a 3 ms statement under load, docs/benchmarks.md).
func genericPlans(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, genericPlansSet); err != nil {
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

// resolveProcessExceptions closes a message's processing exceptions
// (validation, mapping: those without a delivery) once processing it
// succeeded, so a retry that works resolves them by itself. It runs in the
// processing transaction.
func resolveProcessExceptions(ctx context.Context, tx pgx.Tx, messageID uuid.UUID) error {
	tag, err := tx.Exec(ctx, processExceptionsResolve, messageID)
	if err != nil {
		return fmt.Errorf("resolve exceptions of %s: %w", messageID, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return store.AddLineage(ctx, tx, messageID, store.Lineage{Stage: store.StageResolved, Detail: map[string]any{"reason": "processed on retry"}})
}

package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// DeliverGroupArgs is the job that makes the first attempt of the
// deliveries one process job routed. They are sent concurrently and the
// successes recorded with a handful of statements for the whole group, so
// the common case — the target answers 2xx at once — costs one River job
// and one commit per group instead of per delivery. Anything else (a retry,
// a capture target, a target over its rate or behind an open circuit, an
// unusable configuration) is handed to a DeliverArgs job of its own, which
// owns retries, snoozes and exceptions for that delivery.
type DeliverGroupArgs struct {
	DeliveryIDs []uuid.UUID `json:"delivery_ids"`
}

// Kind names the job in River's tables.
func (DeliverGroupArgs) Kind() string { return "deliver_group" }

// InsertOpts puts groups on the deliver queue. No uniqueness: the process
// job that inserts a group writes its deliveries in the same transaction,
// and the deliveries' own state (attempts) makes a second run harmless.
func (DeliverGroupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDeliver, MaxAttempts: 25}
}

// DeliverGroupWorker works DeliverGroupArgs with the same HTTP client,
// rate limiters and circuit breakers as the DeliverWorker it wraps.
type DeliverGroupWorker struct {
	river.WorkerDefaults[DeliverGroupArgs]
	Deliver *DeliverWorker
}

// Timeout is a deliver job's (see DeliverWorker.Timeout). Requests still
// waiting for their turn when it runs out are handed to their own jobs, not
// counted as attempts.
func (w *DeliverGroupWorker) Timeout(*river.Job[DeliverGroupArgs]) time.Duration {
	return w.Deliver.jobTimeout()
}

// groupSendConcurrency bounds the requests one group has in flight, so
// that DeliverWorkers groups against a slow target hold a bounded number of
// connections (at most DeliverWorkers × this).
const groupSendConcurrency = 32

// groupSend is one delivery of a group cleared to be sent now.
type groupSend struct {
	d      pendingDelivery
	cfg    mappings.TargetConfig
	url    string
	header http.Header
	done   func(error)
	res    attemptResult
	// finished: the attempt settled the delivery (for the observer).
	finished bool
	// cancelled: shutdown cut the request short; not an attempt.
	cancelled bool
}

// Work sends the group's first attempts and records them.
func (w *DeliverGroupWorker) Work(ctx context.Context, job *river.Job[DeliverGroupArgs]) error {
	dw := w.Deliver
	ds, err := loadDeliveries(ctx, dw.DB, job.Args.DeliveryIDs)
	if err != nil {
		return err
	}
	var firsts []pendingDelivery
	var handoff []uuid.UUID // to DeliverArgs jobs, due now
	for _, d := range ds {
		switch {
		case d.Status == DeliveryDelivered || d.Status == DeliveryFailed:
		case d.Attempts > 0 || d.TargetKind != engine.TargetHTTP:
			handoff = append(handoff, d.ID)
		default:
			firsts = append(firsts, d)
		}
	}
	sends, later, err := dw.prepareFirstAttempts(ctx, firsts, false)
	if err != nil {
		return err
	}
	handoff = append(handoff, later...)
	delivered, other, cancelled := dw.sendFirstAttempts(ctx, sends)
	handoff = append(handoff, cancelled...)

	// The attempts happened: record them even when shutdown cancels ctx.
	ctx = context.WithoutCancel(ctx)
	err = txn.Run(ctx, dw.DB, func(tx pgx.Tx) error {
		if err := genericPlans(ctx, tx); err != nil {
			return err
		}
		if err := recordDelivered(ctx, tx, delivered); err != nil {
			return err
		}
		later, err := recordOtherFirstAttempts(ctx, tx, other)
		if err != nil {
			return err
		}
		for _, id := range handoff {
			later = append(later, river.InsertManyParams{Args: DeliverArgs{DeliveryID: id}})
		}
		if err := insertJobs(ctx, tx, later, false); err != nil {
			return err
		}
		return completeTx(ctx, tx, job)
	})
	if err != nil {
		return err
	}
	dw.firstAttemptsRecorded(ctx, sends)
	return nil
}

// prepareFirstAttempts decides which of ds, first attempts of http
// deliveries, can be sent now: those whose target has a usable
// configuration, is within its rate and has its circuit closed; with
// fastOnly, also only targets that have lately answered quickly (see
// DeliverWorker.answersQuickly). The others are returned by id, to be
// handed to a job.
func (dw *DeliverWorker) prepareFirstAttempts(ctx context.Context, ds []pendingDelivery, fastOnly bool) ([]*groupSend, []uuid.UUID, error) {
	type cfgKey struct {
		env    int64
		target string
	}
	configs := map[cfgKey]*mappings.TargetConfig{}
	vars := map[int64]map[string]string{}
	var later []uuid.UUID
	var sends []*groupSend
	for _, d := range ds {
		if fastOnly && !dw.answersQuickly(d.envID, d.Target) {
			later = append(later, d.ID)
			continue
		}
		k := cfgKey{d.envID, d.Target}
		cfg, seen := configs[k]
		if !seen {
			c, err := mappings.TargetConfigGet(ctx, dw.DB, dw.Sealer, d.envID, d.Target)
			if err == nil {
				cfg = &c
			}
			configs[k] = cfg // nil: unusable; the DeliverArgs job files the exception
		}
		if cfg == nil {
			later = append(later, d.ID)
			continue
		}
		if strings.Contains(cfg.URLTemplate, "${") && vars[d.envID] == nil {
			v, err := mappings.Variables(ctx, dw.DB, d.envID)
			if err != nil {
				return nil, nil, err
			}
			vars[d.envID] = v
		}
		if l := dw.limiterFor(d.envID, d.Target, cfg.RatePerSecond); l != nil {
			if r := l.Reserve(); r.Delay() > 0 {
				r.Cancel()
				later = append(later, d.ID) // the single job waits its turn
				continue
			}
		}
		done, err := dw.breakerFor(d.envID, d.Target, cfg.Breaker).Allow()
		if err != nil {
			later = append(later, d.ID) // open circuit: the single job waits it out
			continue
		}
		sends = append(sends, &groupSend{d: d, cfg: *cfg, url: expandURL(cfg.URLTemplate, d, vars[d.envID]), header: buildHeader(*cfg, d), done: done})
	}
	return sends, later, nil
}

// sendFirstAttempts sends, at most groupSendConcurrency at a time, and
// tells each target's circuit breaker how it went. It returns the
// deliveries delivered, the other attempts made (to be recorded by
// recordOtherFirstAttempts), and those cut short by shutdown, which are not
// attempts: their jobs send them again, with the same Idempotency-Key.
func (dw *DeliverWorker) sendFirstAttempts(ctx context.Context, sends []*groupSend) (delivered, other []*groupSend, cancelled []uuid.UUID) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, groupSendConcurrency)
	for _, s := range sends {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			s.res = dw.send(ctx, s.cfg, s.d, s.url, s.header)
		})
	}
	wg.Wait()
	for _, s := range sends {
		switch {
		case ctx.Err() != nil && !s.res.delivered:
			s.done(nil)
			s.cancelled = true
			cancelled = append(cancelled, s.d.ID)
			continue
		case s.res.breakerFailure():
			s.done(errTargetDown)
		default:
			s.done(nil)
		}
		if s.res.delivered {
			s.finished = true
			delivered = append(delivered, s)
		} else {
			other = append(other, s)
		}
	}
	return delivered, other, cancelled
}

// recordOtherFirstAttempts records, in tx, first attempts that did not
// deliver (recordAttempt) and returns the DeliverArgs jobs of those to be
// tried again.
func recordOtherFirstAttempts(ctx context.Context, tx pgx.Tx, other []*groupSend) ([]river.InsertManyParams, error) {
	var later []river.InsertManyParams
	for _, s := range other {
		out, err := recordAttempt(ctx, tx, s.d, s.cfg, s.res)
		if errors.Is(err, errAttemptRecorded) {
			continue // another run has it
		}
		if err != nil {
			return nil, err
		}
		s.finished = out.finished
		if !out.finished {
			at := time.Now().Add(out.snooze)
			later = append(later, river.InsertManyParams{Args: DeliverArgs{DeliveryID: s.d.ID}, InsertOpts: &river.InsertOpts{ScheduledAt: at}})
		}
	}
	return later, nil
}

// insertJobs inserts delivery jobs in tx with the client River put in ctx;
// fast uses COPY (InsertManyFastTx), for jobs that need no uniqueness
// check (DeliverGroupArgs).
func insertJobs(ctx context.Context, tx pgx.Tx, jobs []river.InsertManyParams, fast bool) error {
	if len(jobs) == 0 {
		return nil
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("enqueue deliveries: %w", err)
	}
	if fast {
		_, err = client.InsertManyFastTx(ctx, tx, jobs)
	} else {
		_, err = client.InsertManyTx(ctx, tx, jobs)
	}
	if err != nil {
		return fmt.Errorf("enqueue deliveries: %w", err)
	}
	return nil
}

// firstAttemptsRecorded tells the observer and the log about attempts
// once they are committed.
func (dw *DeliverWorker) firstAttemptsRecorded(ctx context.Context, sends []*groupSend) {
	for _, s := range sends {
		if s.cancelled {
			continue
		}
		dw.observe(s.d, s.res, s.finished)
	}
	if log := logger(dw.Logger); log.Enabled(ctx, slog.LevelInfo) {
		for _, s := range sends {
			log.Info("delivery attempt", "message_id", s.d.MessageID, "delivery_id", s.d.ID, "correlation_id", s.d.correlationID, "target", s.d.Target,
				"delivered", s.res.delivered, "status_code", s.res.statusCode, "error_class", s.res.class, "latency", s.res.latency)
		}
	}
}

// loadDeliveries is loadDelivery for many; deliveries that no longer exist
// are left out.
func loadDeliveries(ctx context.Context, db DB, ids []uuid.UUID) ([]pendingDelivery, error) {
	rows, err := db.Query(ctx, `
		select d.id, d.message_id, d.route, d.target, d.target_kind, d.body, d.status, d.attempts, d.budget_from, d.window_from,
		       m.environment_id, m.flow_id, m.correlation_id, m.received_at
		from deliveries d join messages m on m.id = d.message_id where d.id = any($1) order by d.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pendingDelivery, error) {
		var d pendingDelivery
		var body []byte
		err := r.Scan(&d.ID, &d.MessageID, &d.Route, &d.Target, &d.TargetKind, &body, &d.Status, &d.Attempts, &d.budgetFrom, &d.windowFrom,
			&d.envID, &d.flowID, &d.correlationID, &d.receivedAt)
		d.Body = body
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	return out, nil
}

// recordDeliveredSQL records first attempts that succeeded, for many
// deliveries at once: the delivery's new state, its attempt and its two
// lineage events (delivering, delivered), as recordAttempt writes them for
// one. A delivery whose attempt another run recorded meanwhile is skipped.
const recordDeliveredSQL = `
	with input as (
		select * from unnest($1::uuid[], $2::int4[], $3::timestamptz[], $4::int8[], $5::int4[], $6::text[], $7::text[])
			as u(id, n, started, latency, code, excerpt, extra)
	), d as (
		update deliveries set attempts = input.n, window_from = coalesce(deliveries.window_from, input.started), status = 'delivered',
			last_status_code = input.code, last_error = '', next_attempt_at = null, delivered_at = now(), updated_at = now()
		from input where deliveries.id = any($1) and deliveries.id = input.id and deliveries.attempts = input.n - 1
		returning deliveries.id, deliveries.message_id, deliveries.route, deliveries.target
	), a as (
		insert into delivery_attempts (delivery_id, n, started_at, latency_ms, status_code, outcome, response_excerpt, error)
		select d.id, input.n, input.started, input.latency, input.code, 'delivered', input.excerpt, '' from d join input on input.id = d.id
	), l as (
		insert into lineage_events (message_id, delivery_id, at, stage, detail, duration_ms)
		select d.message_id, d.id, e.at, e.stage, e.detail, e.duration
		from d join input on input.id = d.id,
		lateral (values
			(1, input.started, 'delivering', jsonb_build_object('attempt', input.n, 'target', d.target), null::int),
			(2, now(), 'delivered', jsonb_build_object('attempt', input.n, 'route', d.route, 'target', d.target, 'statusCode', input.code) || input.extra::jsonb, input.latency::int)
		) as e(ord, at, stage, detail, duration)
		order by d.id, e.ord
	)
	select id, message_id from d`

// recordDelivered writes the group's successful first attempts, resolves
// any open exception of those deliveries, and recomputes their messages'
// statuses.
func recordDelivered(ctx context.Context, tx pgx.Tx, sends []*groupSend) error {
	if len(sends) == 0 {
		return nil
	}
	n := len(sends)
	ids := make([]uuid.UUID, n)
	attempts, codes := make([]int32, n), make([]int32, n)
	started := make([]time.Time, n)
	latency := make([]int64, n)
	excerpts := make([]string, n)
	// extra is more of the delivered event's detail: the redirects
	// followed, as recordAttempt writes them.
	extra := make([]string, n)
	for i, s := range sends {
		ids[i], attempts[i], started[i] = s.d.ID, int32(s.d.Attempts+1), s.res.started
		latency[i], codes[i], excerpts[i] = s.res.latency.Milliseconds(), int32(s.res.statusCode), s.res.excerpt
		more := map[string]any{}
		s.res.addRedirects(more)
		b, err := json.Marshal(more)
		if err != nil {
			return err
		}
		extra[i] = string(b)
	}
	rows, err := tx.Query(ctx, recordDeliveredSQL, ids, attempts, started, latency, codes, excerpts, extra)
	if err != nil {
		return fmt.Errorf("record deliveries: %w", err)
	}
	type recorded struct{ delivery, message uuid.UUID }
	done, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (recorded, error) {
		var x recorded
		return x, r.Scan(&x.delivery, &x.message)
	})
	if err != nil {
		return fmt.Errorf("record deliveries: %w", err)
	}
	if len(done) == 0 {
		return nil
	}
	deliveryIDs := make([]uuid.UUID, len(done))
	var messageIDs []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for i, x := range done {
		deliveryIDs[i] = x.delivery
		if !seen[x.message] {
			seen[x.message] = true
			messageIDs = append(messageIDs, x.message)
		}
	}
	// An exception can be open only if an earlier attempt failed, which
	// first attempts have not; this covers a group job run again after an
	// inbox action.
	rows, err = tx.Query(ctx, `
		update exceptions set status = 'resolved', resolution = 'delivered', resolved_at = now(), updated_at = now()
		where delivery_id = any($1) and status in ('open', 'assigned')
		returning message_id, delivery_id`, deliveryIDs)
	if err != nil {
		return fmt.Errorf("resolve exceptions: %w", err)
	}
	resolved, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (recorded, error) {
		var x recorded
		return x, r.Scan(&x.message, &x.delivery)
	})
	if err != nil {
		return fmt.Errorf("resolve exceptions: %w", err)
	}
	for _, x := range resolved {
		if err := addLineage(ctx, tx, x.message, lineage{deliveryID: &x.delivery, stage: StageResolved, detail: map[string]any{"reason": "delivered on retry"}}); err != nil {
			return err
		}
	}
	return recomputeMessageStatus(ctx, tx, messageIDs...)
}

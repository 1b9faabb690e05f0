package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/queue"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
)

// DeliverGroupArgs is the job that makes the first attempt of the
// deliveries one process job routed. They are sent concurrently and the
// successes recorded with a handful of statements for the whole group, so
// the common case — the target answers 2xx at once — costs one River job
// and one commit per group instead of per delivery. Anything else (a retry,
// a kind that is not grouped, a target over its rate or behind an open circuit, an
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
	return river.InsertOpts{Queue: queue.Deliver, MaxAttempts: 25}
}

// DeliverGroupWorker works DeliverGroupArgs with the same transports,
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
	d    pendingDelivery
	cfg  release.TargetConfig
	t    transport.Transport
	a    transport.Attempt
	done func(error)
	// rec is the attempt settled, once made; nil when it was not made.
	rec *attemptRecord
	// err: the transport could not make the attempt (not an attempt).
	err error
}

// delivered says whether the attempt was made and delivered.
func (s *groupSend) delivered() bool { return s.rec != nil && s.rec.status == store.DeliveryDelivered }

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
		case !d.Status.Sendable():
		case d.Attempts > 0 || !dw.Transports.Grouped(transport.Kind(d.TargetKind)):
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
	made, notMade := dw.sendFirstAttempts(ctx, sends)
	handoff = append(handoff, notMade...)

	// The attempts happened: record them even when shutdown cancels ctx.
	ctx = context.WithoutCancel(ctx)
	err = txn.Run(ctx, dw.DB, func(tx pgx.Tx) error {
		if err := genericPlans(ctx, tx); err != nil {
			return err
		}
		later, err := recordFirstAttempts(ctx, tx, made)
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

// prepareFirstAttempts decides which of ds, first attempts of deliveries
// of grouped kinds, can be sent now: those whose target has a usable
// configuration, is within its rate and has its circuit closed; with
// fastOnly, also only targets that have lately answered quickly (see
// DeliverWorker.answersQuickly). The others are returned by id, to be
// handed to a job.
func (dw *DeliverWorker) prepareFirstAttempts(ctx context.Context, ds []pendingDelivery, fastOnly bool) ([]*groupSend, []uuid.UUID, error) {
	type cfgKey struct {
		env, flow int64 // a flow may give the target a local name
		target    string
	}
	configs := map[cfgKey]*release.TargetConfig{}
	vars := map[int64]map[string]string{}
	var later []uuid.UUID
	var sends []*groupSend
	for _, d := range ds {
		if fastOnly && !dw.answersQuickly(d.envID, d.Target) {
			later = append(later, d.ID)
			continue
		}
		t, err := dw.transportOf(d)
		if err != nil {
			later = append(later, d.ID) // the DeliverArgs job files the exception
			continue
		}
		k := cfgKey{d.envID, d.flowID, d.Target}
		cfg, seen := configs[k]
		if !seen {
			c, err := release.FlowTargetConfigGet(ctx, dw.DB, dw.Sealer, d.envID, d.flowID, d.Target)
			if fault.CodeOf(err) == fault.NotFound && !t.Traits().NeedsConfiguration {
				c, err = release.DefaultTargetConfig(d.envID, d.Target), nil
			}
			if err == nil {
				cfg = &c
			}
			configs[k] = cfg // nil: unusable; the DeliverArgs job files the exception
		}
		if cfg == nil {
			later = append(later, d.ID)
			continue
		}
		a, err := dw.attemptOf(ctx, d, *cfg, vars)
		if err != nil {
			return nil, nil, err
		}
		if l := dw.limiterFor(d.envID, cfg.Target, cfg.RatePerSecond); l != nil {
			if r := l.Reserve(); r.Delay() > 0 {
				r.Cancel()
				later = append(later, d.ID) // the single job waits its turn
				continue
			}
		}
		done, err := dw.breakerFor(d.envID, cfg.Target, cfg.Breaker).Allow()
		if err != nil {
			later = append(later, d.ID) // open circuit: the single job waits it out
			continue
		}
		sends = append(sends, &groupSend{d: d, cfg: *cfg, t: t, a: a, done: done})
	}
	return sends, later, nil
}

// sendFirstAttempts sends, at most groupSendConcurrency at a time, and
// settles each attempt made (groupSend.rec). It returns the attempts made
// and, by id, the deliveries whose attempt was not: cut short by shutdown
// or not made by their transport. Their jobs send them again, with the
// same Idempotency-Key.
func (dw *DeliverWorker) sendFirstAttempts(ctx context.Context, sends []*groupSend) (made []*groupSend, notMade []uuid.UUID) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, groupSendConcurrency)
	for _, s := range sends {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			res, cancelled, err := dw.send(ctx, s.t, s.a, s.done)
			switch {
			case err != nil:
				s.err = err
			case !cancelled:
				s.rec = settle(s.d, s.cfg, res)
			}
		})
	}
	wg.Wait()
	for _, s := range sends {
		if s.rec == nil {
			notMade = append(notMade, s.d.ID)
			continue
		}
		made = append(made, s)
	}
	return made, notMade
}

// recordFirstAttempts records, in tx, first attempts made (recordAttempts)
// and returns the DeliverArgs jobs of those to be tried again.
func recordFirstAttempts(ctx context.Context, tx pgx.Tx, made []*groupSend) ([]river.InsertManyParams, error) {
	recs := make([]*attemptRecord, len(made))
	for i, s := range made {
		recs[i] = s.rec
	}
	if _, err := recordAttempts(ctx, tx, recs); err != nil {
		return nil, err
	}
	var later []river.InsertManyParams
	for _, r := range recs {
		if !r.finished {
			later = append(later, retryJob(r.d.ID, r.snooze))
		}
	}
	return later, nil
}

// riverSchedulerInterval is how often River's scheduler makes scheduled
// jobs available (its JobSchedulerIntervalDefault, not configurable).
const riverSchedulerInterval = 5 * time.Second

// retryJob is the job of a delivery's next attempt, due in delay. River
// inserts a job with a ScheduledAt as scheduled, and only its scheduler,
// every 5 s, makes it available: a retry due in 20 ms would wait up to
// 5 s, and on a sequenced lane every later message with it. A retry due
// sooner than that is inserted available and waits in the worker
// (DeliverArgs.NotBefore), like River's own short snoozes.
func retryJob(id uuid.UUID, delay time.Duration) river.InsertManyParams {
	at := time.Now().Add(delay)
	if delay < riverSchedulerInterval {
		return river.InsertManyParams{Args: DeliverArgs{DeliveryID: id, NotBefore: at}}
	}
	return river.InsertManyParams{Args: DeliverArgs{DeliveryID: id}, InsertOpts: &river.InsertOpts{ScheduledAt: at}}
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
		if s.rec != nil {
			dw.observe(s.rec)
		}
	}
	if log := logger(dw.Logger); log.Enabled(ctx, slog.LevelInfo) {
		for _, s := range sends {
			if s.rec == nil {
				continue
			}
			log.Info("delivery attempt", "message_id", s.d.MessageID, "delivery_id", s.d.ID, "correlation_id", s.d.correlationID, "target", s.d.Target,
				"delivered", s.delivered(), "status_code", s.rec.res.StatusCode, "error_class", s.rec.res.Class, "latency", s.rec.res.Latency)
		}
	}
}

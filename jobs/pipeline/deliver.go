package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/queue"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
)

// DeliverArgs is the job that sends one delivery to its target.
type DeliverArgs struct {
	DeliveryID uuid.UUID `json:"delivery_id" river:"unique"`
	// NotBefore, when set, is when the attempt is due: a retry sooner
	// than River's scheduler interval is inserted available with this
	// time rather than scheduled, and the worker waits for it (see
	// retryJob).
	NotBefore time.Time `json:"not_before,omitzero"`
}

// Kind names the job in River's tables.
func (DeliverArgs) Kind() string { return "deliver" }

// InsertOpts makes a delivery's job unique while it is waiting or running,
// so a process job that runs twice cannot send twice, yet an inbox retry of
// a finished delivery can enqueue it again. River's own retry count is a
// safety net for unexpected errors (a database outage); the target's retry
// policy is applied by the worker with snoozes, which River does not count
// as attempts.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queue.Deliver, MaxAttempts: 25, UniqueOpts: river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled},
	}}
}

// errTargetDown tells the circuit breaker an attempt counts as a failure of
// the target (transport.Outcome.TargetDown).
var errTargetDown = errors.New("target failed")

// maxLimiterWait is the longest a worker blocks for the rate limiter; a
// longer wait snoozes the job and frees the worker slot.
const maxLimiterWait = time.Second

// DeliverWorker sends deliveries through the transport of each target's
// kind. It holds, per environment and target, a rate limiter and a circuit
// breaker for the grouped kinds (transport.Traits.Grouped); both are per
// process (with N processes the effective rate is N × the configured
// rate), which keeps every send free of extra database round trips.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	DB     store.DB
	Sealer *secret.Sealer
	// Transports send, one per target kind (Transports).
	Transports *transport.Registry
	Logger     *slog.Logger
	// JobTimeout caps the job timeout (see Timeout); zero means 2 minutes.
	JobTimeout time.Duration
	// Observer is told about attempts and circuit changes (observer.go).
	Observer Observer

	mu       sync.Mutex
	breakers map[string]*breaker
	limiters map[string]*limiter
	// latency is each target's recent answer time (a moving average), by
	// environment and target: see answersQuickly.
	latency map[string]time.Duration
}

// quickAnswer is how fast a target must have been answering lately for
// process jobs to send it their messages' first attempts themselves
// (ProcessWorker.Deliver). A slower target gets them from the deliver
// queue, so it holds up the mapping of other flows' messages only while
// it turns slow: the process jobs sending to it at that moment wait at
// most its timeout, and the answers (or timeouts) they get move its
// average past this mark.
const quickAnswer = 250 * time.Millisecond

// answersQuickly says whether the target's recent answers (or failures to
// answer) took less than quickAnswer on average; a target not tried yet
// is given the benefit of the doubt.
func (w *DeliverWorker) answersQuickly(envID int64, target string) bool {
	key := strconv.FormatInt(envID, 10) + "/" + target
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latency[key] < quickAnswer
}

// noteLatency folds one attempt's answer time into the target's average,
// weighting it one eighth.
func (w *DeliverWorker) noteLatency(envID int64, target string, took time.Duration) {
	key := strconv.FormatInt(envID, 10) + "/" + target
	w.mu.Lock()
	defer w.mu.Unlock()
	avg, seen := w.latency[key]
	if !seen {
		w.latency[key] = took
		return
	}
	w.latency[key] = avg + (took-avg)/8
}

type breaker struct {
	policy release.BreakerPolicy
	cb     *gobreaker.TwoStepCircuitBreaker[struct{}]
}

type limiter struct {
	perSec float64
	l      *rate.Limiter
}

// NewDeliverWorker returns a worker sending through Transports(db,
// httpClient); set Transports afterwards to send through others.
func NewDeliverWorker(db store.DB, sealer *secret.Sealer, httpClient *http.Client, logger *slog.Logger) *DeliverWorker {
	return &DeliverWorker{DB: db, Sealer: sealer, Transports: Transports(db, httpClient), Logger: logger,
		breakers: map[string]*breaker{}, limiters: map[string]*limiter{}, latency: map[string]time.Duration{}}
}

// deliverJobTimeout bounds a deliver job: an attempt (at most
// release.MaxTargetTimeout) with room for the rate limiter and the
// database. River's default of one minute would cut the slowest targets
// short.
const deliverJobTimeout = 2 * release.MaxTargetTimeout

// Timeout lets an attempt run as long as its target's timeout allows, but
// no longer than JobTimeout when that is set: River rescues a job only once
// it has run longer than its timeout, so this is also how long a killed
// process's deliveries wait.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return w.jobTimeout() }

func (w *DeliverWorker) jobTimeout() time.Duration {
	if w.JobTimeout > 0 {
		return min(w.JobTimeout, deliverJobTimeout)
	}
	return deliverJobTimeout
}

func (w *DeliverWorker) breakerFor(envID int64, target string, p release.BreakerPolicy) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	key := strconv.FormatInt(envID, 10) + "/" + target
	w.mu.Lock()
	defer w.mu.Unlock()
	if b := w.breakers[key]; b != nil && b.policy == p {
		return b.cb
	}
	threshold := uint32(p.FailureThreshold)
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        key,
		Timeout:     p.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		OnStateChange: func(name string, from, to gobreaker.State) {
			logger(w.Logger).Warn("circuit breaker", "target", name, "from", from.String(), "to", to.String())
			w.circuitChanged(envID, target, to.String())
		},
	})
	w.breakers[key] = &breaker{policy: p, cb: cb}
	return cb
}

func (w *DeliverWorker) limiterFor(envID int64, target string, perSec float64) *rate.Limiter {
	if perSec <= 0 {
		return nil
	}
	key := strconv.FormatInt(envID, 10) + "/" + target
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := w.limiters[key]; l != nil && l.perSec == perSec {
		return l.l
	}
	l := rate.NewLimiter(rate.Limit(perSec), max(1, int(perSec)))
	w.limiters[key] = &limiter{perSec: perSec, l: l}
	return l
}

// pendingDelivery is a delivery with what sending it needs from its message.
type pendingDelivery struct {
	store.Delivery
	budgetFrom    int
	windowFrom    *time.Time
	envID         int64
	flowID        int64
	correlationID string
	receivedAt    time.Time
	// sequenceKey is the message's sequence key; "" when unordered.
	sequenceKey string
	// version and checksum name the flow version the message runs on
	// (loadDeliveries sets them), so followSteps can tell from the
	// cached program whether anything reads the answer.
	version  int
	checksum string
}

// lane is the delivery's sequence lane; ok is false when it has none.
func (d pendingDelivery) lane() (Lane, bool) {
	return Lane{EnvID: d.envID, FlowID: d.flowID, Key: d.sequenceKey}, d.sequenceKey != ""
}

// TransportDelivery is what a transport is told of delivery d of a
// message with the given correlation id, outside a deliver job (the
// inbox shows the request headers a delivery is sent with).
func TransportDelivery(d store.Delivery, correlationID string) transport.Delivery {
	return pendingDelivery{Delivery: d, correlationID: correlationID}.forTransport()
}

// forTransport is what a transport is told of d.
func (d pendingDelivery) forTransport() transport.Delivery {
	return transport.Delivery{ID: d.ID, MessageID: d.MessageID, EnvironmentID: d.envID, Route: d.Route, Target: d.Target,
		CorrelationID: d.correlationID, Body: d.Body}
}

// loadDeliveries returns the deliveries ids names that still exist.
func loadDeliveries(ctx context.Context, db txn.DBTX, ids []uuid.UUID) ([]pendingDelivery, error) {
	rows, err := db.Query(ctx, loadDeliveriesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pendingDelivery, error) {
		var d pendingDelivery
		var body []byte
		err := r.Scan(&d.ID, &d.MessageID, &d.Route, &d.Target, &d.TargetKind, &body, &d.Status, &d.Attempts, &d.budgetFrom, &d.windowFrom,
			&d.envID, &d.flowID, &d.correlationID, &d.receivedAt, &d.sequenceKey, &d.Step, &d.version, &d.checksum)
		d.Body = body
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	return out, nil
}

// loadDelivery is loadDeliveries of one; NotFound when it is gone.
func loadDelivery(ctx context.Context, db txn.DBTX, id uuid.UUID) (pendingDelivery, error) {
	ds, err := loadDeliveries(ctx, db, []uuid.UUID{id})
	if err != nil {
		return pendingDelivery{}, fmt.Errorf("delivery %s: %w", id, err)
	}
	if len(ds) == 0 {
		return pendingDelivery{}, fault.Errorf(fault.NotFound, "no delivery %s", id)
	}
	return ds[0], nil
}

// transportOf returns the transport of d's kind; a kind no transport
// serves is a configuration problem of the flow, not of the delivery.
func (w *DeliverWorker) transportOf(d pendingDelivery) (transport.Transport, error) {
	if t, ok := w.Transports.Get(transport.Kind(d.TargetKind)); ok {
		return t, nil
	}
	return nil, fault.Errorf(fault.Invalid, "target “%s” has kind “%s”, which this installation cannot deliver to; change the target's kind in the flow and deploy it", d.Target, d.TargetKind)
}

// attemptOf returns the attempt of d under cfg, with the environment's
// variables when the configuration refers to any (vars caches them by
// environment, when not nil).
func (w *DeliverWorker) attemptOf(ctx context.Context, d pendingDelivery, cfg release.TargetConfig, vars map[int64]map[string]string) (transport.Attempt, error) {
	a := transport.Attempt{Delivery: d.forTransport(), Config: cfg}
	if !strings.Contains(cfg.URLTemplate, "${") { // most templates need no variables: skip the query
		return a, nil
	}
	if v, ok := vars[d.envID]; ok {
		a.Vars = v
		return a, nil
	}
	v, err := release.Variables(ctx, w.DB, d.envID)
	if err != nil {
		return a, err
	}
	if vars != nil {
		vars[d.envID] = v
	}
	a.Vars = v
	return a, nil
}

// send encodes a's body in its target's format (encodeAttempt), makes
// one attempt through t and tells the target's circuit breaker
// (done; nil for a kind without one) how it went. cancelled: shutdown cut
// the attempt short, so it is not one; the job sends again, under the same
// Idempotency-Key.
func (w *DeliverWorker) send(ctx context.Context, t transport.Transport, a transport.Attempt, done func(error)) (res transport.Outcome, cancelled bool, err error) {
	a, failed := encodeAttempt(a)
	if failed != nil {
		if done != nil {
			done(nil)
		}
		return *failed, false, nil
	}
	res, err = t.Send(ctx, a)
	if err == nil && ctx.Err() == nil {
		w.noteLatency(a.EnvironmentID, a.Target, res.Latency)
	}
	cancelled = ctx.Err() != nil && (err != nil || res.Verdict != transport.Delivered)
	if done != nil {
		if err == nil && !cancelled && res.TargetDown {
			done(errTargetDown)
		} else {
			done(nil)
		}
	}
	return res, cancelled, err
}

// Work sends one delivery through its kind's transport and records the
// attempt.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	if wait := time.Until(job.Args.NotBefore); wait > maxLimiterWait {
		return river.JobSnooze(wait)
	} else if wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return river.JobSnooze(max(0, time.Until(job.Args.NotBefore)))
		}
	}
	d, err := loadDelivery(ctx, w.DB, job.Args.DeliveryID)
	if err != nil {
		if fault.CodeOf(err) == fault.NotFound {
			return river.JobCancel(err) // the message was deleted; nothing to send
		}
		return err
	}
	if !d.Status.Sendable() {
		return nil // finished, or held until its lane releases it with a job of its own
	}
	log := logger(w.Logger).With("message_id", d.MessageID, "delivery_id", d.ID, "correlation_id", d.correlationID, "target", d.Target)

	t, err := w.transportOf(d)
	if err != nil {
		log.Warn("target kind unknown", "kind", d.TargetKind)
		return w.finishConfiguration(ctx, job, d, err)
	}
	traits := t.Traits()
	cfg, err := release.FlowTargetConfigGet(ctx, w.DB, w.Sealer, d.envID, d.flowID, d.Target)
	switch {
	case err != nil && fault.CodeOf(err) == fault.NotFound && !traits.NeedsConfiguration:
		cfg = release.DefaultTargetConfig(d.envID, d.Target)
	case err != nil && (fault.CodeOf(err) == fault.NotFound || fault.CodeOf(err) == fault.Unavailable || errors.Is(err, secret.ErrOpen)):
		log.Warn("target configuration unusable", "error", err)
		return w.finishConfiguration(ctx, job, d, err)
	case err != nil:
		return err
	}
	a, err := w.attemptOf(ctx, d, cfg, nil)
	if err != nil {
		return err
	}

	var done func(error)
	if traits.Grouped {
		if l := w.limiterFor(d.envID, cfg.Target, cfg.RatePerSecond); l != nil {
			r := l.Reserve()
			if delay := r.Delay(); delay > maxLimiterWait {
				r.Cancel()
				return river.JobSnooze(delay)
			} else if delay > 0 {
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					r.Cancel()
					return river.JobSnooze(0)
				}
			}
		}
		if done, err = w.breakerFor(d.envID, cfg.Target, cfg.Breaker).Allow(); err != nil {
			return w.waitForCircuit(ctx, d, cfg)
		}
	}
	res, cancelled, err := w.send(ctx, t, a, done)
	if err != nil {
		return err
	}
	if cancelled {
		// Shutting down mid-attempt: put the job back without counting
		// one; the target dedupes on the Idempotency-Key if it got it.
		return river.JobSnooze(0)
	}
	rec := settle(d, cfg, res)
	// The attempt happened: record it even when shutdown cancels ctx.
	ctx = context.WithoutCancel(ctx)
	err = txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		recorded, err := recordAttempts(ctx, tx, []*attemptRecord{rec})
		if err != nil {
			return err
		}
		if recorded == 0 {
			// Another run recorded an attempt meanwhile (River is
			// at-least-once); fail this run so River reloads and decides
			// again.
			return fmt.Errorf("delivery %s: attempt %d: %w", d.ID, rec.n, errAttemptRecorded)
		}
		if rec.finished {
			return completeTx(ctx, tx, job)
		}
		return nil
	})
	if err != nil {
		return err
	}
	log.Info("delivery attempt", "delivered", res.Verdict == transport.Delivered, "status_code", res.StatusCode, "error_class", res.Class,
		"latency", res.Latency, "finished", rec.finished)
	w.observe(rec)
	if !rec.finished {
		return river.JobSnooze(rec.snooze)
	}
	return nil
}

// waitForCircuit snoozes a delivery whose target's circuit is open (or
// half-open and busy) instead of failing it, so an outage of the target
// does not burn the deliveries' attempts.
func (w *DeliverWorker) waitForCircuit(ctx context.Context, d pendingDelivery, cfg release.TargetConfig) error {
	wait := jitter(cfg.Breaker.OpenFor)
	err := txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, deliveryWaitForCircuit,
			d.ID, time.Now().Add(wait), "circuit open: the target failed repeatedly; waiting before trying again"); err != nil {
			return fmt.Errorf("delivery %s: %w", d.ID, err)
		}
		return store.RecomputeMessageStatus(ctx, tx, d.MessageID)
	})
	if err != nil {
		return err
	}
	return river.JobSnooze(wait)
}

// backoff is BaseDelay·2^(n-1) capped at MaxDelay, with "equal jitter"
// (half fixed, half random) so deliveries that failed together do not all
// come back at the same instant.
func backoff(p release.RetryPolicy, n int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/10+1)
}

// finishConfiguration fails a delivery whose target cannot be used in its
// environment (not configured, secret unreadable, a kind no transport
// serves) with a configuration exception; fixing the configuration and
// retrying resolves it.
func (w *DeliverWorker) finishConfiguration(ctx context.Context, job *river.Job[DeliverArgs], d pendingDelivery, cause error) error {
	msg := cause.Error()
	if fe, ok := fault.As(cause); ok {
		msg = fe.Message
	}
	return txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, deliveryFail, d.ID, msg); err != nil {
			return fmt.Errorf("delivery %s: %w", d.ID, err)
		}
		if err := store.AddLineage(ctx, tx, d.MessageID, store.Lineage{DeliveryID: &d.ID, Stage: store.StageFailed, Detail: map[string]any{"target": d.Target, "error": msg}}); err != nil {
			return err
		}
		if err := store.RaiseException(ctx, tx, store.Exception{Kind: store.ExceptionConfiguration, EnvironmentID: d.envID, FlowID: d.flowID,
			MessageID: d.MessageID, DeliveryID: &d.ID, Stage: "deliver", ErrorClass: "target unusable: " + d.Target, Message: msg}); err != nil {
			return err
		}
		if err := store.RecomputeMessageStatus(ctx, tx, d.MessageID); err != nil {
			return err
		}
		return completeTx(ctx, tx, job)
	})
}

// DeliveryRetry sends a delivery again with a fresh retry budget, for the
// inbox's retry action: the delivery returns to pending and a deliver job is
// enqueued in tx. A delivery already delivered is a Conflict. When the
// retry succeeds the delivery's open exception resolves itself.
func DeliveryRetry(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], deliveryID uuid.UUID) error {
	// A delivery of a message with a sequence key goes back to its lane
	// (held), under the lane's lock, taken before any row lock; the wake
	// below releases it at once unless an earlier message blocks it.
	var lanes []Lane
	var lane Lane
	err := tx.QueryRow(ctx, deliveryLaneSelect, deliveryID).Scan(&lane.EnvID, &lane.FlowID, &lane.Key)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("delivery %s: %w", deliveryID, err)
	case lane.Key != "":
		lanes = []Lane{lane}
	}
	if err := lockLanes(ctx, tx, lanes); err != nil {
		return err
	}
	var status store.DeliveryStatus
	err = tx.QueryRow(ctx, deliveryStatusLock, deliveryID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return fault.Errorf(fault.NotFound, "no delivery %s", deliveryID)
	}
	if err != nil {
		return fmt.Errorf("delivery %s: %w", deliveryID, err)
	}
	if status == store.DeliveryDelivered {
		return fault.Errorf(fault.Conflict, "delivery %s was delivered already; nothing to retry", deliveryID)
	}
	// A step whose mapping failed is mapped again from the answers stored
	// before it; the deliveries before it are not sent again.
	if err := remapStep(ctx, tx, deliveryID); err != nil {
		return err
	}
	to, stage := store.DeliveryPending, store.StageQueued
	if len(lanes) > 0 {
		to, stage = store.DeliveryHeld, store.StageHeld
	}
	var messageID uuid.UUID
	if err := tx.QueryRow(ctx, deliveryRetryUpdate, deliveryID, to).Scan(&messageID); err != nil {
		return fmt.Errorf("delivery %s: %w", deliveryID, err)
	}
	if err := store.AddLineage(ctx, tx, messageID, store.Lineage{DeliveryID: &deliveryID, Stage: stage, Detail: map[string]any{"retry": true}}); err != nil {
		return err
	}
	if err := store.RecomputeMessageStatus(ctx, tx, messageID); err != nil {
		return err
	}
	if len(lanes) > 0 {
		return SequenceWake(ctx, tx, client, lanes)
	}
	if _, err := client.InsertTx(ctx, tx, DeliverArgs{DeliveryID: deliveryID}, nil); err != nil {
		return fmt.Errorf("enqueue delivery %s: %w", deliveryID, err)
	}
	return nil
}

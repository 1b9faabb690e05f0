package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
)

// errAttemptRecorded says another run recorded this attempt first.
var errAttemptRecorded = errors.New("the attempt was recorded by another run")

// attemptRecord is one attempt settled: the delivery's new state, the
// attempt's row and its two lineage events (delivering, then delivered,
// retry scheduled or failed). settle builds it, the only place an
// attempt's lineage detail is made; recordAttempts writes it, and routeAll
// writes the delivered first attempts a process job made with the rows it
// inserts.
type attemptRecord struct {
	d   pendingDelivery
	res transport.Outcome
	n   int
	// status is the delivery's new status; finished when it is delivered
	// or failed, else the next attempt is due after snooze.
	status     store.DeliveryStatus
	finished   bool
	snooze     time.Duration
	windowFrom time.Time
	// errText is the error as lineage and the exception tell it (with
	// "gave up after n attempts" when the budget ran out).
	errText string
	events  []store.Lineage
}

// settle decides what an attempt means for its delivery under the target's
// retry policy.
func settle(d pendingDelivery, cfg release.TargetConfig, res transport.Outcome) *attemptRecord {
	// The attempt number and retry window come from the row loaded before
	// sending; recordAttempts writes them only if no other run recorded
	// an attempt since.
	r := &attemptRecord{d: d, res: res, n: d.Attempts + 1, windowFrom: res.Started, status: store.DeliveryDelivered, finished: true}
	if d.windowFrom != nil {
		r.windowFrom = *d.windowFrom
	}
	stage := store.StageDelivered
	detail := make(map[string]any, 4+len(res.Detail))
	for k, v := range res.Detail {
		detail[k] = v
	}
	detail["attempt"], detail["route"], detail["target"] = r.n, d.Route, d.Target
	if d.Step != "" {
		detail["step"] = d.Step
	}
	if res.StatusCode != 0 {
		detail["statusCode"] = res.StatusCode
	}
	tries := r.n - d.budgetFrom
	switch res.Verdict {
	case transport.Delivered:
	case transport.Retry:
		delay := res.RetryAfter
		if delay == 0 {
			delay = backoff(cfg.Retry, tries)
		}
		if tries < cfg.Retry.MaxAttempts && !time.Now().Add(delay).After(r.windowFrom.Add(cfg.Retry.Window)) {
			r.status, r.finished, r.snooze, stage = store.DeliveryRetrying, false, delay, store.StageRetryScheduled
			r.errText = res.Error
			detail["retryIn"] = delay.String()
			if res.RetryAfter > 0 {
				detail["retryAfter"] = res.RetryAfter.String()
			}
			break
		}
		r.status, stage = store.DeliveryFailed, store.StageFailed
		r.errText = res.Error + "; gave up after " + attempts(tries)
	default:
		r.status, stage = store.DeliveryFailed, store.StageFailed
		r.errText = res.Error
	}
	if r.errText != "" || res.Verdict != transport.Delivered {
		detail["error"] = r.errText
	}
	latency := res.Latency
	r.events = []store.Lineage{
		{DeliveryID: &d.ID, At: res.Started, Stage: store.StageDelivering, Detail: map[string]any{"attempt": r.n, "target": d.Target}},
		{DeliveryID: &d.ID, At: res.Started.Add(latency), Stage: stage, Detail: detail, Duration: &latency},
	}
	return r
}

// outcome is the attempt as delivery_attempts and the observer name it:
// delivered (or the kind's word, captured), retry or failed.
func (r *attemptRecord) outcome() string {
	if r.status == store.DeliveryFailed {
		return "failed"
	}
	return r.res.Word()
}

// recordAttempts writes, in tx, settled attempts and their consequences:
// the deliveries' new states, attempts and lineage (recordAttemptsSQL),
// the exceptions a delivery resolves or raises, the messages' statuses
// and, for a delivery of a message with a sequence key, the release of the
// next delivery of its lane. It is the one way an attempt is recorded, for one delivery (a
// deliver job) or many (a group's first attempts). It returns how many it
// recorded: an attempt another run recorded first is left out.
func recordAttempts(ctx context.Context, tx pgx.Tx, recs []*attemptRecord) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	n := len(recs)
	var (
		ids                 = make([]uuid.UUID, n)
		attempts            = make([]int32, n)
		started, windowFrom = make([]time.Time, n), make([]time.Time, n)
		latency             = make([]int64, n)
		codes               = make([]*int32, n)
		outcomes, excerpts  = make([]string, n), make([]string, n)
		errs, statuses      = make([]string, n), make([]string, n)
		next                = make([]*time.Time, n)
		events              = make([]store.Lineage, 0, 2*n)
		byID                = make(map[uuid.UUID]*attemptRecord, n)
		now                 = time.Now()
	)
	for i, r := range recs {
		ids[i], attempts[i], started[i], windowFrom[i] = r.d.ID, int32(r.n), r.res.Started, r.windowFrom
		latency[i], outcomes[i], excerpts[i], errs[i], statuses[i] = r.res.Latency.Milliseconds(), r.outcome(), r.res.Excerpt, r.res.Error, string(r.status)
		if r.res.StatusCode != 0 {
			c := int32(r.res.StatusCode)
			codes[i] = &c
		}
		if r.status == store.DeliveryRetrying {
			t := now.Add(r.snooze)
			next[i] = &t
		}
		events = append(events, r.events...)
		byID[r.d.ID] = r
	}
	l, err := store.LineageColumnsOf(events)
	if err != nil {
		return 0, err
	}
	// Deliveries of messages with a sequence key: their lanes are locked
	// before anything else, and woken below when one was delivered.
	var lanes, delivering []Lane
	for _, r := range recs {
		if ln, ok := r.d.lane(); ok {
			lanes = append(lanes, ln)
			if r.status == store.DeliveryDelivered {
				delivering = append(delivering, ln)
			}
		}
	}
	if err := lockLanes(ctx, tx, lanes); err != nil {
		return 0, err
	}
	rows, err := tx.Query(ctx, recordAttemptsSQL, ids, attempts, started, latency, codes, outcomes, excerpts, errs, windowFrom, statuses, next,
		l.DeliveryIDs, l.Ats, l.Stages, l.Details, l.Durations)
	if err != nil {
		return 0, fmt.Errorf("record attempts: %w", err)
	}
	type written struct{ delivery, message uuid.UUID }
	done, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (written, error) {
		var x written
		return x, r.Scan(&x.delivery, &x.message)
	})
	if err != nil {
		return 0, fmt.Errorf("record attempts: %w", err)
	}
	if len(done) == 0 {
		return 0, nil
	}
	var messages, delivered []uuid.UUID
	var deliveredN []int32
	seen := map[uuid.UUID]bool{}
	for _, x := range done {
		if !seen[x.message] {
			seen[x.message] = true
			messages = append(messages, x.message)
		}
		if r := byID[x.delivery]; r.status == store.DeliveryDelivered {
			delivered, deliveredN = append(delivered, x.delivery), append(deliveredN, int32(r.n))
		}
	}
	// Lock the messages (see RecomputeMessageStatus) in the same round
	// trip as closing the exceptions of the deliveries delivered.
	var resMessages, resDeliveries []uuid.UUID
	if err := tx.QueryRow(ctx, attemptsExceptionsResolve, messages, delivered, deliveredN).Scan(new(int64), &resMessages, &resDeliveries); err != nil {
		return 0, fmt.Errorf("resolve exceptions: %w", err)
	}
	resolved := make([]written, len(resMessages))
	for i := range resMessages {
		resolved[i] = written{delivery: resDeliveries[i], message: resMessages[i]}
	}
	for _, x := range resolved {
		if err := store.AddLineage(ctx, tx, x.message, store.Lineage{DeliveryID: &x.delivery, Stage: store.StageResolved, Detail: map[string]any{"reason": "delivered on retry"}}); err != nil {
			return 0, err
		}
	}
	for _, x := range done {
		r := byID[x.delivery]
		if r.status != store.DeliveryFailed {
			continue
		}
		d := r.d
		msg := fmt.Sprintf("delivery of route %s to target “%s” failed: %s", d.Route, d.Target, r.errText)
		if d.Step != "" {
			msg = fmt.Sprintf("delivery of step %s (route %s) to target “%s” failed: %s", d.Step, d.Route, d.Target, r.errText)
		}
		if r.res.Excerpt != "" {
			msg += "; the target said: " + store.Truncate(r.res.Excerpt, 300)
		}
		if err := store.RaiseException(ctx, tx, store.Exception{Kind: store.ExceptionDelivery, EnvironmentID: d.envID, FlowID: d.flowID,
			MessageID: d.MessageID, DeliveryID: &d.ID, Stage: "deliver", ErrorClass: r.res.Class, Message: msg}); err != nil {
			return 0, err
		}
	}
	// The steps after a delivered route or step join the message before
	// its status is worked out, so it stays queued until they are done.
	var follow []*attemptRecord
	for _, x := range done {
		if r := byID[x.delivery]; r.status == store.DeliveryDelivered {
			follow = append(follow, r)
		}
	}
	steps, err := followSteps(ctx, tx, follow)
	if err != nil {
		return 0, err
	}
	if err := store.RecomputeLockedMessageStatus(ctx, tx, messages...); err != nil {
		return 0, err
	}
	if err := insertJobs(ctx, tx, deliverJobs(steps), true); err != nil {
		return 0, err
	}
	released, err := wakeLanes(ctx, tx, delivering)
	if err != nil {
		return 0, err
	}
	if err := insertJobs(ctx, tx, deliverJobs(released), true); err != nil {
		return 0, err
	}
	return len(done), nil
}

// attempts is "1 attempt", "3 attempts".
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

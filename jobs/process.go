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
	m, err := MessageByID(ctx, w.DB, job.Args.MessageID)
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
	vars, err := mappings.Variables(ctx, w.DB, m.EnvironmentID)
	if err != nil {
		return err
	}
	start := time.Now()
	res, runErr := prog.program.Run(ctx, engine.Input{Payload: m.Payload, Now: m.ReceivedAt, Vars: vars})
	took := time.Since(start)
	if runErr != nil && !errors.Is(runErr, engine.ErrInvalidInput) && !errors.Is(runErr, engine.ErrLimit) {
		return fmt.Errorf("map message %s: %w", m.ID, runErr) // cancelled: River retries
	}
	configured, err := w.configuredTargets(ctx, m.EnvironmentID)
	if err != nil {
		return err
	}

	var outcome string
	err = txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		var status MessageStatus
		if err := tx.QueryRow(ctx, `select status from messages where id = $1 for no key update`, m.ID).Scan(&status); err != nil {
			return fmt.Errorf("lock message %s: %w", m.ID, err)
		}
		if status != StatusReceived {
			outcome = "already processed"
			return completeTx(ctx, tx, job)
		}
		var err error
		outcome, err = w.record(ctx, tx, m, prog, res, runErr, took, configured)
		if err != nil {
			return err
		}
		return completeTx(ctx, tx, job)
	})
	if err != nil {
		return err
	}
	log.Debug("processed", "outcome", outcome, "took", took)
	return nil
}

func (w *ProcessWorker) configuredTargets(ctx context.Context, envID int64) (map[string]bool, error) {
	rows, err := w.DB.Query(ctx, `select target_name from target_configs where environment_id = $1`, envID)
	if err != nil {
		return nil, fmt.Errorf("configured targets: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("configured targets: %w", err)
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set, nil
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
		return "failed", fail(ctx, tx, m.ID, e, map[string]any{"error": runErr.Error()}, now, took)
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
		if err := addLineage(ctx, tx, m.ID, lineage{at: now, stage: StageValidated}); err != nil {
			return "", err
		}
		return "failed", fail(ctx, tx, m.ID, e, map[string]any{"errors": rowErrors}, now, took)
	}

	var matched []string
	var deliveries []uuid.UUID
	var jobs []river.InsertManyParams
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
		if _, err := tx.Exec(ctx, `
			insert into deliveries (id, message_id, route, target, target_kind, body, status, last_error)
			values ($1, $2, $3, $4, $5, $6, $7, $8)`,
			id, m.ID, r.Name, r.Target, kind, []byte(r.Output), status, lastError); err != nil {
			return "", fmt.Errorf("insert delivery: %w", err)
		}
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
	if err := addLineage(ctx, tx, m.ID, events...); err != nil {
		return "", err
	}
	for _, e := range configErrors {
		if err := raiseException(ctx, tx, e); err != nil {
			return "", err
		}
	}
	if len(matched) == 0 {
		return "unrouted", setMessageStatus(ctx, tx, m.ID, StatusUnrouted)
	}
	if err := setMessageStatus(ctx, tx, m.ID, StatusQueued); err != nil {
		return "", err
	}
	if len(configErrors) > 0 {
		// Some deliveries failed already: let them decide the status.
		if err := recomputeMessageStatus(ctx, tx, m.ID); err != nil {
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
	return "routed", nil
}

func reject(ctx context.Context, tx pgx.Tx, id uuid.UUID, e Exception, detail any, at time.Time) error {
	if err := addLineage(ctx, tx, id, lineage{at: at, stage: StageRejected, detail: detail}); err != nil {
		return err
	}
	if err := raiseException(ctx, tx, e); err != nil {
		return err
	}
	return setMessageStatus(ctx, tx, id, StatusRejected)
}

func fail(ctx context.Context, tx pgx.Tx, id uuid.UUID, e Exception, detail any, at time.Time, took time.Duration) error {
	if err := addLineage(ctx, tx, id, lineage{at: at, stage: StageFailed, detail: detail, duration: &took}); err != nil {
		return err
	}
	if err := raiseException(ctx, tx, e); err != nil {
		return err
	}
	return setMessageStatus(ctx, tx, id, StatusFailed)
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

package intake_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// Concurrent identical requests make one message and one job: from
// requests gathered into one commit, from as many writers racing on the
// key in their own transactions, and through the synchronous answer.
func TestConcurrentIdenticalAcceptsMakeOneMessage(t *testing.T) {
	t.Parallel()
	type acceptFunc func(context.Context, intake.AcceptRequest) (intake.AcceptResult, error)
	for name, way := range map[string]func(b *jobstest.Bundle) acceptFunc{
		"one writer": func(b *jobstest.Bundle) acceptFunc { return intake.New(b.Pool, b.Client, intake.Config{}).Accept },
		"eight writers": func(b *jobstest.Bundle) acceptFunc {
			return intake.New(b.Pool, b.Client, intake.Config{Writers: 8}).Accept
		},
		"Prefer wait": func(b *jobstest.Bundle) acceptFunc {
			return func(ctx context.Context, r intake.AcceptRequest) (intake.AcceptResult, error) {
				res, err := b.Intake.MapInline(ctx, r)
				return res.AcceptResult, err
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := jobstest.Setup(t, false)
			accept := way(b)
			var wg sync.WaitGroup
			results := make([]intake.AcceptResult, 50)
			errs := make([]error, 50)
			for i := range 50 {
				wg.Go(func() {
					results[i], errs[i] = accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "orders",
						Payload: []byte(`{"id": 42, "name": "#42", "total": 9.5}`), IdempotencyKey: "same-key"})
				})
			}
			wg.Wait()
			fresh := 0
			for i := range 50 {
				require.NoError(t, errs[i])
				require.Equal(t, results[0].MessageID, results[i].MessageID)
				if !results[i].Replayed {
					fresh++
				}
			}
			require.Equal(t, 1, fresh, "exactly one request created the message")
			require.Equal(t, 1, b.CountRows(t, `select count(*) from messages`))
			require.Equal(t, 1, b.CountRows(t, `select count(*) from river_job where kind = 'process'`))
			require.Equal(t, 1, b.CountRows(t, `select count(*) from lineage_events where stage = 'received'`))
		})
	}
}

func TestSameKeyDifferentPayloadIsRefused(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	first := b.Accept(t, `{"id": 9, "name": "#9", "total": 1}`)
	again := b.Accept(t, `{"id": 9, "name": "#9", "total": 1}`)
	require.True(t, again.Replayed)
	require.Equal(t, first.MessageID, again.MessageID)

	_, err := b.Intake.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "orders",
		Payload: []byte(`{"id": 9, "name": "#9", "total": 2}`)})
	require.ErrorIs(t, err, intake.ErrKeyReused)
	require.Contains(t, err.Error(), "order-9")
	require.Equal(t, 1, b.CountRows(t, `select count(*) from messages`))
	require.Equal(t, 1, b.CountRows(t, `select count(*) from river_job where kind = 'process'`))
}

func TestAcceptAnswersWhatToFix(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	accept := func(env, flow, payload string) error {
		_, err := b.Intake.Accept(ctx, intake.AcceptRequest{Env: env, FlowSlug: flow, Payload: []byte(payload)})
		return err
	}
	err := accept("staging", "orders", `{}`)
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
	err = accept("dev", "nope", `{}`)
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
	require.Contains(t, err.Error(), "no flow “nope”")
	err = accept("prod", "orders", `{"id": 1}`)
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "nothing deployed to prod")
	require.Contains(t, err.Error(), "no version deployed to prod")

	err = accept("dev", "orders", "{\n  \"id\": 1,\n  oops\n}")
	require.ErrorIs(t, err, intake.ErrBadJSON)
	require.Equal(t, fault.Malformed, fault.CodeOf(err))
	require.Contains(t, err.Error(), "line 3, column")
	require.ErrorIs(t, accept("dev", "orders", ``), intake.ErrBadJSON)

	// Headers win over the expressions; without a correlation expression
	// result, one is generated.
	res, err := b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders",
		Payload: []byte(`{"id": 1, "total": 1}`), IdempotencyKey: "hdr-key", CorrelationID: ""})
	require.NoError(t, err)
	require.Equal(t, "hdr-key", res.IdempotencyKey)
	_, err = uuid.Parse(res.CorrelationID)
	require.NoError(t, err, "generated correlation id when the expression gives none")
	require.Equal(t, "/api/v1/messages/"+res.MessageID.String(), res.StatusURL)
	m, err := store.MessageByID(ctx, b.Pool, res.MessageID)
	require.NoError(t, err)
	require.Equal(t, store.StatusReceived, m.Status)
	require.JSONEq(t, `{"id": 1, "total": 1}`, string(m.Payload))
	require.Equal(t, 1, m.VersionNumber)

	byCorr, err := store.MessagesByCorrelationID(ctx, b.Pool, res.CorrelationID)
	require.NoError(t, err)
	require.Len(t, byCorr, 1)
	_, err = store.ParseMessageID("not-a-uuid")
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
	_, err = store.MessageGet(ctx, b.Pool, uuid.New())
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
}

// A message exists if and only if its process job does: a failure between
// the statements of the intake transaction leaves neither.
func TestAcceptIsAllOrNothing(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	_, err := b.Pool.Exec(ctx, `
		create function fail_job_insert() returns trigger language plpgsql as $$
		begin raise exception 'injected failure after the message insert'; end $$;
		create trigger fail_job_insert before insert on river_job for each row execute function fail_job_insert();`)
	require.NoError(t, err)
	_, err = b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(`{"id": 1, "name": "#1", "total": 1}`)})
	require.ErrorContains(t, err, "injected failure")
	require.Equal(t, 0, b.CountRows(t, `select count(*) from messages`))
	require.Equal(t, 0, b.CountRows(t, `select count(*) from lineage_events`))

	_, err = b.Pool.Exec(ctx, `drop trigger fail_job_insert on river_job`)
	require.NoError(t, err)
	_, err = b.Pool.Exec(ctx, `
		create function fail_lineage() returns trigger language plpgsql as $$
		begin raise exception 'injected lineage failure'; end $$;
		create trigger fail_lineage before insert on lineage_events for each row execute function fail_lineage();`)
	require.NoError(t, err)
	_, err = b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(`{"id": 1, "name": "#1", "total": 1}`)})
	require.ErrorContains(t, err, "injected lineage failure")
	require.Equal(t, 0, b.CountRows(t, `select count(*) from messages`))
	require.Equal(t, 0, b.CountRows(t, `select count(*) from river_job`))

	_, err = b.Pool.Exec(ctx, `drop trigger fail_lineage on lineage_events`)
	require.NoError(t, err)
	b.Accept(t, `{"id": 1, "name": "#1", "total": 1}`)
	require.Equal(t, 1, b.CountRows(t, `select count(*) from messages`))
	require.Equal(t, 1, b.CountRows(t, `select count(*) from river_job where kind = 'process' and args->'message_ids' ? (select id::text from messages)`))
}

func TestAcceptBatchAnswersEachLine(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	b.Accept(t, `{"id": 100, "name": "#100", "total": 1}`)
	res, err := b.Intake.AcceptBatch(ctx, intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: [][]byte{
		[]byte(`{"id": 101, "name": "#101", "total": 1}`),
		[]byte(`{"id": 102, "name": "#102", "total": 1`),
		[]byte(`{"id": 100, "name": "#100", "total": 1}`),
		[]byte(`{"id": 100, "name": "#100", "total": 99}`),
		[]byte(`{"id": 103, "name": "#103", "total": 1}`),
		[]byte(`{"id": 103, "name": "#103", "total": 1}`),
	}})
	require.NoError(t, err)
	require.Len(t, res, 6)
	require.NoError(t, res[0].Err)
	require.False(t, res[0].Replayed)
	require.ErrorIs(t, res[1].Err, intake.ErrBadJSON)
	require.Equal(t, 2, res[1].Line)
	require.NoError(t, res[2].Err)
	require.True(t, res[2].Replayed, "seen before the batch")
	require.ErrorIs(t, res[3].Err, intake.ErrKeyReused)
	require.NoError(t, res[4].Err)
	require.True(t, res[5].Replayed, "a repeat within the batch is a replay")
	require.Equal(t, res[4].MessageID, res[5].MessageID)
	require.Equal(t, 3, b.CountRows(t, `select count(*) from messages`))
	require.Equal(t, 2, b.CountRows(t, `select count(*) from river_job where kind = 'process'`), "one job before, one for the batch")
	require.Equal(t, 3, b.CountRows(t, `select sum(jsonb_array_length(args->'message_ids')) from river_job where kind = 'process'`))

	_, err = b.Intake.AcceptBatch(ctx, intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: make([][]byte, intake.MaxBatchLines+1)})
	require.Equal(t, fault.TooLarge, fault.CodeOf(err))
}

func TestMapInlineAnswersAndRecords(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	res, err := b.Intake.MapInline(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Now: now,
		Payload: []byte(`{"id": 200, "name": "#200", "total": 12}`)})
	require.NoError(t, err)
	require.True(t, res.Valid)
	require.Len(t, res.Routes, 1)
	require.Equal(t, "to-erp", res.Routes[0].Name)
	require.JSONEq(t, `{"orderId": 200, "total": 12, "qty": 1, "company": "1000"}`, string(res.Routes[0].Output))

	bad, err := b.Intake.MapInline(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders",
		Payload: []byte(`{"id": 201, "name": "#201", "total": 0}`)})
	require.NoError(t, err)
	require.False(t, bad.Valid)
	require.Equal(t, "positive-total", bad.Validation[0].Rule)
	require.Equal(t, 2, b.CountRows(t, `select count(*) from messages`), "both recorded")
	require.Equal(t, 2, b.CountRows(t, `select count(*) from river_job where kind = 'process'`))
	m, err := store.MessageByID(ctx, b.Pool, res.MessageID)
	require.NoError(t, err)
	require.True(t, m.ReceivedAt.Equal(now))
}

func TestAcceptWithTheDatabaseDownIsUnavailable(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	// A pool on a port nobody listens on, with a short connect timeout:
	// the caller must get a quick 503, not a hang or a 500.
	down, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/x?connect_timeout=1&sslmode=disable")
	require.NoError(t, err)
	t.Cleanup(down.Close)
	in := intake.New(down, b.Client, intake.Config{})
	req := intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(`{"id": 1}`)}
	for name, accept := range map[string]func() error{
		"Accept": func() error { _, err := in.Accept(context.Background(), req); return err },
		"AcceptBatch": func() error {
			_, err := in.AcceptBatch(context.Background(), intake.BatchRequest{Env: "dev", FlowSlug: "orders", Lines: [][]byte{req.Payload}})
			return err
		},
		"MapInline": func() error { _, err := in.MapInline(context.Background(), req); return err },
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := accept()
			require.Less(t, time.Since(start), 3*time.Second)
			fe, ok := fault.As(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, fault.Unavailable, fe.Code)
			require.Equal(t, 5, fe.RetryAfterSeconds)
		})
	}
}

// Key expressions may read environment variables, e.g. a per-environment
// prefix; a failing key expression says to send the header.
func TestKeyExpressionsSeeVariables(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	def, err := engine.ParseDefinition([]byte(`{
		"formatVersion": 1, "name": "returns", "source": {"system": "pos", "event": "return.created"},
		"keys": {"idempotency": "env(\"PREFIX\") + \"-\" + string(source.id)", "correlation": "upper(source.ref)"},
		"targets": [{"name": "audit", "kind": "capture"}],
		"routes": [{"name": "all", "target": "audit", "mapping": [{"target": "id", "expr": "source.id"}]}]
	}`))
	require.NoError(t, err)
	f, err := mappings.FlowCreate(ctx, b.Pool, mappings.NewFlow{Name: "Returns", Slug: "returns", Definition: def}, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, f.ID, 1, "", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, f.ID, 1)
	require.NoError(t, release.VariableSet(ctx, b.Pool, b.Env.ID, "PREFIX", "dev"))

	res, err := b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "returns", Payload: []byte(`{"id": 7, "ref": "r-7"}`)})
	require.NoError(t, err)
	require.Equal(t, "dev-7", res.IdempotencyKey)
	require.Equal(t, "R-7", res.CorrelationID)

	// A failing correlation expression does not lose the event: an id is
	// generated.
	res, err = b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "returns", Payload: []byte(`{"id": 8, "ref": 5}`)})
	require.NoError(t, err)
	require.Equal(t, "dev-8", res.IdempotencyKey)
	_, err = uuid.Parse(res.CorrelationID)
	require.NoError(t, err)

	// Without the variable the key cannot be derived: the caller is told
	// to send the header, and nothing is recorded.
	testEnv, err := release.EnvironmentByName(ctx, b.Pool, "test")
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, testEnv.ID, f.ID, 1)
	_, err = b.Intake.Accept(ctx, intake.AcceptRequest{Env: "test", FlowSlug: "returns", Payload: []byte(`{"id": 9, "ref": "r-9"}`)})
	require.Equal(t, fault.Invalid, fault.CodeOf(err), "%v", err)
	require.Contains(t, err.Error(), "send an Idempotency-Key header")
	res, err = b.Intake.Accept(ctx, intake.AcceptRequest{Env: "test", FlowSlug: "returns", Payload: []byte(`{"id": 9, "ref": "r-9"}`), IdempotencyKey: "k9"})
	require.NoError(t, err, "with the header the expression is not needed")
	require.Equal(t, "R-9", res.CorrelationID)
}

// TestAcceptFollowsANewDeployment: intake remembers what a trigger URL
// resolves to, yet a message accepted after a deploy is on the new version
// (the remembered deployment is checked by the insert itself).
func TestAcceptFollowsANewDeployment(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	first := b.Accept(t, `{"id": 1, "total": 1}`)
	require.Equal(t, 1, first.VersionNumber)

	d, err := mappings.DraftGet(ctx, b.Pool, b.Flow.ID)
	require.NoError(t, err)
	def := *d.Definition
	def.Description = "v2"
	d, err = mappings.DraftSave(ctx, b.Pool, b.Flow.ID, d.Revision, &def, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, b.Flow.ID, d.Revision, "v2", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, b.Flow.ID, 2)

	second := b.Accept(t, `{"id": 2, "total": 1}`)
	require.Equal(t, 2, second.VersionNumber)
	m, err := store.MessageByID(ctx, b.Pool, second.MessageID)
	require.NoError(t, err)
	require.Equal(t, 2, m.VersionNumber)
	// And a replay of the first still finds the original.
	again := b.Accept(t, `{"id": 1, "total": 1}`)
	require.Equal(t, first.MessageID, again.MessageID)
}

// cancelAfterCommit is a pool whose first query after a commit cancels the
// caller's context: the wait of a `Prefer: wait` call running out just
// after the event was recorded.
type cancelAfterCommit struct {
	*pgxpool.Pool
	cancel    context.CancelFunc
	committed bool
}

func (c *cancelAfterCommit) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := c.Pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &commitSpy{Tx: tx, done: func() { c.committed = true }}, nil
}

func (c *cancelAfterCommit) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if c.committed {
		c.cancel()
	}
	return c.Pool.QueryRow(ctx, sql, args...)
}

type commitSpy struct {
	pgx.Tx
	done func()
}

func (s *commitSpy) Commit(ctx context.Context) error {
	err := s.Tx.Commit(ctx)
	if err == nil {
		s.done()
	}
	return err
}

func TestMapInlineWaitRunningOutAfterTheRecordIsNotUnavailable(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := &cancelAfterCommit{Pool: b.Pool, cancel: cancel}
	res, err := intake.New(db, b.Client, intake.Config{}).MapInline(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders",
		Payload: []byte(`{"id": 210, "name": "#210", "total": 12}`)})
	require.ErrorIs(t, err, intake.ErrWaitExpired, "recorded: not the 503 that says nothing was recorded")
	require.NotEqual(t, uuid.Nil, res.MessageID)
	require.Equal(t, 1, b.CountRows(t, `select count(*) from messages`))
	require.Equal(t, 1, b.CountRows(t, `select count(*) from river_job where kind = 'process'`), "the worker will map it")
}

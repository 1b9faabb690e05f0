package jobs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/jobs"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// ordersDefinition is a small flow: orders keyed by id, correlated by name,
// mapped to an http target "erp" and, when audit is true, to a capture
// target "audit".
const ordersDefinition = `{
	"formatVersion": 1,
	"name": "orders",
	"source": {"system": "shop", "event": "order.created"},
	"keys": {"idempotency": "\"order-\" + string(source.id)", "correlation": "source.name"},
	"validation": [{"name": "positive-total", "rule": "source.total != nil && source.total > 0", "message": "The order needs a positive total."}],
	"targets": [{"name": "erp", "kind": "http"}, {"name": "audit", "kind": "capture"}],
	"routes": [
		{"name": "to-erp", "target": "erp", "mapping": [
			{"target": "orderId", "expr": "source.id"},
			{"target": "total", "expr": "source.total"},
			{"target": "qty", "expr": "int(source.qty ?? 1)"},
			{"target": "company", "expr": "env(\"ERP_COMPANY\")"}
		]},
		{"name": "to-audit", "when": "source.audit == true", "target": "audit", "mapping": [
			{"target": "order", "expr": "source.name"}
		]}
	]
}`

const theSecret = "tok_TOPSECRET_7731"

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// target is a local HTTP target whose answers a test scripts.
type target struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	answer   func(n int, w http.ResponseWriter)
}

func newTarget(t *testing.T, answer func(n int, w http.ResponseWriter)) *target {
	t.Helper()
	tg := &target{answer: answer}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.requests = append(tg.requests, r)
		tg.bodies = append(tg.bodies, body)
		n := len(tg.requests)
		answer := tg.answer
		tg.mu.Unlock()
		answer(n, w)
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) count() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return len(tg.requests)
}

func (tg *target) setAnswer(a func(n int, w http.ResponseWriter)) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.answer = a
}

func status(code int) func(int, http.ResponseWriter) {
	return func(_ int, w http.ResponseWriter) { w.WriteHeader(code) }
}

type bundle struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	// intake is the trigger's: events enter the pipeline the way they do
	// in production.
	intake *intake.Intake
	sealer *secret.Sealer
	env    release.Environment
	flow   mappings.Flow
	editor mappings.Editor
	logs   *syncBuffer
}

// setup gives a test its own database with the orders flow deployed to dev,
// a River client (started when start is true) and an Intake on them.
func setup(t testing.TB, start bool) *bundle {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	u, err := account.UserCreate(ctx, pool, account.NewUser{Email: "rel@shop.example", Role: account.RoleAdmin, Password: "a long enough password"})
	require.NoError(t, err)
	ed := mappings.Editor{UserID: u.ID, Email: u.Email}
	def, err := engine.ParseDefinition([]byte(ordersDefinition))
	require.NoError(t, err)
	flow, err := mappings.FlowCreate(ctx, pool, mappings.NewFlow{Name: "Orders", Slug: "orders", Definition: def}, ed)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, pool, flow.ID, 1, "v1", ed)
	require.NoError(t, err)
	env, err := release.EnvironmentByName(ctx, pool, "dev")
	require.NoError(t, err)
	dbtest.Deploy(t, pool, env.ID, flow.ID, 1)
	require.NoError(t, release.VariableSet(ctx, pool, env.ID, "ERP_COMPANY", "1000"))

	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	sealer, err := secret.NewSealer(key)
	require.NoError(t, err)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := jobs.NewClient(pool, logger, jobs.Config{Sealer: sealer, FetchPollInterval: 50 * time.Millisecond, FetchCooldown: time.Millisecond})
	require.NoError(t, err)
	if start {
		require.NoError(t, client.Start(ctx))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = client.Stop(ctx)
		})
	}
	return &bundle{pool: pool, client: client, intake: intake.New(pool, client, intake.Config{}), sealer: sealer, env: env, flow: flow, editor: ed, logs: logs}
}

// configureERP points target erp at url with a bearer secret and a retry
// policy fast enough for tests.
func (b *bundle) configureERP(t *testing.T, url string, edit func(*release.TargetConfig)) {
	t.Helper()
	c := release.TargetConfig{EnvironmentID: b.env.ID, Target: "erp", URLTemplate: url + "/orders/{correlationId}",
		Headers: map[string]string{"X-Tenant": "shop"}, Auth: release.AuthBearer, Secret: theSecret,
		Timeout: 2 * time.Second,
		Retry:   release.RetryPolicy{MaxAttempts: 5, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, Window: time.Minute},
		Breaker: release.BreakerPolicy{FailureThreshold: 100, OpenFor: time.Second}}
	if edit != nil {
		edit(&c)
	}
	_, err := release.TargetConfigPut(context.Background(), b.pool, b.sealer, c, b.editor)
	require.NoError(t, err)
}

func (b *bundle) accept(t *testing.T, payload string) intake.AcceptResult {
	t.Helper()
	res, err := b.intake.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(payload)})
	require.NoError(t, err)
	return res
}

// waitStatus polls until the message reaches want (or fails the test).
func (b *bundle) waitStatus(t *testing.T, id uuid.UUID, want store.MessageStatus) store.MessageView {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := store.MessageGet(context.Background(), b.pool, id)
		require.NoError(t, err)
		if v.Message.Status == want {
			return v
		}
		if time.Now().After(deadline) {
			j, _ := json.MarshalIndent(v, "", "  ")
			t.Fatalf("message %s is %s, want %s:\n%s", id, v.Message.Status, want, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stages(v store.MessageView) []store.Stage {
	var s []store.Stage
	for _, e := range v.Lineage {
		s = append(s, e.Stage)
	}
	return s
}

// requireNoSecret asserts the secret is nowhere a person or a log can see.
func (b *bundle) requireNoSecret(t *testing.T, v store.MessageView) {
	t.Helper()
	j, err := json.Marshal(v)
	require.NoError(t, err)
	require.NotContains(t, string(j), "TOPSECRET", "message view")
	require.NotContains(t, b.logs.String(), "TOPSECRET", "logs")
	var leaks int
	require.NoError(t, b.pool.QueryRow(context.Background(), `
		select (select count(*) from delivery_attempts where response_excerpt like '%TOPSECRET%' or error like '%TOPSECRET%')
		     + (select count(*) from captures where headers::text like '%TOPSECRET%' or url like '%TOPSECRET%')
		     + (select count(*) from lineage_events where detail::text like '%TOPSECRET%')
		     + (select count(*) from exceptions where message like '%TOPSECRET%')`).Scan(&leaks))
	require.Zero(t, leaks, "rows holding the secret")
}

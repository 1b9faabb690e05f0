// Package jobstest sets up the tests of the jobs packages: a database of
// their own with the orders flow deployed to dev, a River client with
// every worker (started or not), an Intake on them, local HTTP targets a
// test scripts, and helpers that wait for a message or an exception to
// reach a state. Only tests import it; it imports jobs, so the tests of
// jobs/intake, jobs/pipeline, jobs/inbox and jobs/insight that use it are
// external test packages (package intake_test and so on).
package jobstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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
	"github.com/crossdock/crossdock/internal/pgconf"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/jobs"
	"github.com/crossdock/crossdock/jobs/insight"
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

// Secret is the credential ConfigureERP gives target erp. RequireNoSecret
// fails a test where any part of it shows.
const Secret = "tok_TOPSECRET_7731"

// logBuffer collects log output from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Target is a local HTTP target whose answers a test scripts. It closes
// when the test ends.
type Target struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	answer   func(n int, w http.ResponseWriter)
}

// NewTarget starts a target that answers the nth request (counting from
// 1) with answer.
func NewTarget(t testing.TB, answer func(n int, w http.ResponseWriter)) *Target {
	t.Helper()
	tg := &Target{answer: answer}
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

// Count is how many requests the target has been sent.
func (tg *Target) Count() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return len(tg.requests)
}

// SetAnswer changes how the target answers from the next request on.
func (tg *Target) SetAnswer(a func(n int, w http.ResponseWriter)) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.answer = a
}

// Requests are the requests the target was sent, in order.
func (tg *Target) Requests() []*http.Request {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]*http.Request(nil), tg.requests...)
}

// Bodies are the bodies of the requests the target was sent, in order.
func (tg *Target) Bodies() [][]byte {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([][]byte(nil), tg.bodies...)
}

// Status is an answer for NewTarget: always the status code.
func Status(code int) func(int, http.ResponseWriter) {
	return func(_ int, w http.ResponseWriter) { w.WriteHeader(code) }
}

// Bundle is what Setup gives a test.
type Bundle struct {
	Pool   *pgxpool.Pool
	Client *river.Client[pgx.Tx]
	// Intake is the trigger's: events enter the pipeline the way they do
	// in production.
	Intake *intake.Intake
	Sealer *secret.Sealer
	Env    release.Environment // dev
	Flow   mappings.Flow       // orders
	Editor mappings.Editor     // an admin
	logs   *logBuffer
}

// NewSealer returns a sealer with a random key.
func NewSealer(t testing.TB) *secret.Sealer {
	t.Helper()
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	sealer, err := secret.NewSealer(key)
	require.NoError(t, err)
	return sealer
}

// Setup gives a test its own database with the orders flow deployed to dev
// (variable ERP_COMPANY 1000, no target configured), a River client with
// every worker, started when start is true and stopped when the test ends,
// and an Intake on them.
func Setup(t testing.TB, start bool) *Bundle {
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

	sealer := NewSealer(t)
	logs := &logBuffer{}
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
	return &Bundle{Pool: pool, Client: client, Intake: intake.New(pool, client, intake.Config{}), Sealer: sealer, Env: env, Flow: flow, Editor: ed, logs: logs}
}

// ConfigureERP points target erp at url with a bearer Secret and a retry
// policy fast enough for tests; edit, when not nil, changes the
// configuration before it is stored.
func (b *Bundle) ConfigureERP(t testing.TB, url string, edit func(*release.TargetConfig)) {
	t.Helper()
	c := release.TargetConfig{EnvironmentID: b.Env.ID, Target: "erp", URLTemplate: url + "/orders/{correlationId}",
		Headers: map[string]string{"X-Tenant": "shop"}, Auth: release.AuthBearer, Secret: Secret,
		Timeout: 2 * time.Second,
		Retry:   release.RetryPolicy{MaxAttempts: 5, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, Window: time.Minute},
		Breaker: release.BreakerPolicy{FailureThreshold: 100, OpenFor: time.Second}}
	if edit != nil {
		edit(&c)
	}
	_, err := release.TargetConfigPut(context.Background(), b.Pool, b.Sealer, c, b.Editor)
	require.NoError(t, err)
}

// Accept accepts payload for the orders flow in dev through the bundle's
// Intake.
func (b *Bundle) Accept(t testing.TB, payload string) intake.AcceptResult {
	t.Helper()
	res, err := b.Intake.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(payload)})
	require.NoError(t, err)
	return res
}

// WaitStatus polls until the message reaches want (or fails the test after
// 20 seconds, showing the message).
func (b *Bundle) WaitStatus(t testing.TB, id uuid.UUID, want store.MessageStatus) store.MessageView {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := store.MessageGet(context.Background(), b.Pool, id)
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

// RequireNoSecret asserts Secret is nowhere a person or a log can see: the
// message view, the client's logs, attempts, captures, lineage and
// exceptions.
func (b *Bundle) RequireNoSecret(t testing.TB, v store.MessageView) {
	t.Helper()
	j, err := json.Marshal(v)
	require.NoError(t, err)
	require.NotContains(t, string(j), "TOPSECRET", "message view")
	require.NotContains(t, b.logs.String(), "TOPSECRET", "logs")
	var leaks int
	require.NoError(t, b.Pool.QueryRow(context.Background(), `
		select (select count(*) from delivery_attempts where response_excerpt like '%TOPSECRET%' or error like '%TOPSECRET%')
		     + (select count(*) from captures where headers::text like '%TOPSECRET%' or url like '%TOPSECRET%')
		     + (select count(*) from lineage_events where detail::text like '%TOPSECRET%')
		     + (select count(*) from exceptions where message like '%TOPSECRET%')`).Scan(&leaks))
	require.Zero(t, leaks, "rows holding the secret")
}

// CountRows runs a query that counts (select count(*) …) on the bundle's
// pool.
func (b *Bundle) CountRows(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// Stages are the stages of the message's lineage, in order.
func Stages(v store.MessageView) []store.Stage {
	var s []store.Stage
	for _, e := range v.Lineage {
		s = append(s, e.Stage)
	}
	return s
}

// MessageIDs are the ids of the explorer's rows, in order.
func MessageIDs(rows []insight.MessageRow) []uuid.UUID {
	out := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// VolumePool connects the volume benchmarks to a database filled by
// `crossdock seed-volume` (CROSSDOCK_BENCH_DATABASE_URL), with the
// server's session settings so that queries are planned as in production;
// without the variable the benchmark is skipped. The pool closes with b.
func VolumePool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	dsn := os.Getenv("CROSSDOCK_BENCH_DATABASE_URL")
	if dsn == "" {
		b.Skip("CROSSDOCK_BENCH_DATABASE_URL is not set: point it at a database filled by crossdock seed-volume")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	pgconf.Apply(cfg)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

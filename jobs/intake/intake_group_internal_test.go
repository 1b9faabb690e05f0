package intake

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
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

// setupOrders gives a test its own database with the orders flow deployed
// to dev and a River client that only inserts (nothing here works jobs).
func setupOrders(t *testing.T) (*pgxpool.Pool, *river.Client[pgx.Tx]) {
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
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	return pool, client
}

func countRows(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// commitWithRawPayload commits a group in which the event at index
// bad carries raw (bytes no request can get past CheckJSON, such as
// invalid UTF-8), to test that one event PostgreSQL refuses fails alone.
func commitWithRawPayload(ctx context.Context, in *Intake, env, flow string, payloads [][]byte) ([]AcceptResult, []error, error) {
	d, err := in.cache.resolve(ctx, in.db, env, flow, time.Minute)
	if err != nil {
		return nil, nil, err
	}
	items := make([]*intakeItem, len(payloads))
	for i, p := range payloads {
		id, _ := uuid.NewV7()
		items[i] = &intakeItem{d: d, done: make(chan struct{}),
			p: prepared{id: id, key: id.String(), keySource: "generated", correlation: id.String(), payload: p, sha: sha256.Sum256(p), now: time.Now()}}
	}
	in.commit(ctx, items)
	res, errs := make([]AcceptResult, len(items)), make([]error, len(items))
	for i, it := range items {
		<-it.done
		res[i], errs[i] = it.res, it.err
	}
	return res, errs, nil
}

// One event PostgreSQL refuses breaks its group's statement; the others of
// the group are then written one by one and only that event fails.
func TestIntakeOneBadEventFailsAlone(t *testing.T) {
	t.Parallel()
	pool, client := setupOrders(t)
	in := New(pool, client, Config{})
	payloads := [][]byte{[]byte(`{"id": 1, "total": 1}`), []byte("{\"id\": 2, \"name\": \"\xff\"}"), []byte(`{"id": 3, "total": 1}`)}
	res, errs, err := commitWithRawPayload(context.Background(), in, "dev", "orders", payloads)
	require.NoError(t, err)
	require.NoError(t, errs[0])
	require.Error(t, errs[1])
	require.NoError(t, errs[2])
	require.Equal(t, 2, countRows(t, pool, `select count(*) from messages`))
	require.Equal(t, 2, countRows(t, pool, `select count(*) from river_job where kind = 'process'`))
	for _, i := range []int{0, 2} {
		require.Equal(t, 1, countRows(t, pool, `select count(*) from messages where id = $1`, res[i].MessageID))
	}
	// Through the front door, the same bytes are a 400 that names the byte.
	_, err = in.Accept(context.Background(), AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: payloads[1]})
	require.Equal(t, fault.Malformed, fault.CodeOf(err), "%v", err)
	require.Contains(t, err.Error(), "not valid UTF-8 (byte 19)")
}

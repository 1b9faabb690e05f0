package jobs_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// memoTransport is a target kind added the way any new kind is: one type
// implementing transport.Transport, and one line registering it (see
// TestTransportOfANewKind). It keeps what it is sent in memory, on the
// shelf each environment configures (its one setting), and asks the first
// attempt of a body containing "again" to be retried.
type memoTransport struct {
	mu       sync.Mutex
	received map[uuid.UUID][]string // by delivery: "shelf: body" of each attempt
}

func (*memoTransport) Fields() []transport.Field {
	return []transport.Field{{Name: "shelf", Label: "Shelf", Input: transport.Text, Required: true, Hint: "where the memos go"}}
}

func (*memoTransport) Values(cfg release.TargetConfig) map[string]string {
	return map[string]string{"shelf": cfg.Settings["shelf"]}
}

func (m *memoTransport) Apply(cfg *release.TargetConfig, values map[string]string) map[string]string {
	cfg.Settings = map[string]string{"shelf": strings.TrimSpace(values["shelf"])}
	return m.Validate(cfg.Masked())
}

func (*memoTransport) Validate(cfg release.MaskedTargetConfig) map[string]string {
	if cfg.Settings["shelf"] == "" {
		return map[string]string{"shelf": "name the shelf the memos go on"}
	}
	return nil
}

func (*memoTransport) Kind() transport.Kind { return "memo" }

func (*memoTransport) Traits() transport.Traits {
	return transport.Traits{Label: "memo (test)", Grouped: true, NeedsConfiguration: true}
}

func (*memoTransport) Redact(release.TargetConfig, transport.Delivery) map[string]string { return nil }

func (m *memoTransport) Send(_ context.Context, a transport.Attempt) (transport.Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.received[a.ID] = append(m.received[a.ID], a.Config.Settings["shelf"]+": "+string(a.Body))
	res := transport.Outcome{Verdict: transport.Delivered, Started: time.Now()}
	if strings.Contains(string(a.Body), "again") && len(m.received[a.ID]) == 1 {
		res.Verdict, res.RetryAfter, res.Class, res.Error = transport.Retry, 10*time.Millisecond, "memo busy", "the memo was busy"
	}
	return res, nil
}

func (m *memoTransport) bodies(id uuid.UUID) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.received[id]...)
}

const memoDefinition = `{
	"formatVersion": 1,
	"name": "notes",
	"source": {"system": "shop", "event": "note.created"},
	"keys": {"idempotency": "source.id", "correlation": "source.id"},
	"targets": [{"name": "notebook", "kind": "memo"}],
	"routes": [{"name": "to-notebook", "target": "notebook", "mapping": [{"target": "text", "expr": "source.text"}]}]
}`

// TestTransportOfANewKind registers a test transport next to the built-in
// ones and follows messages from acceptance to delivered through it: the
// process job sends the first attempt (the kind is grouped), a retry goes
// through a deliver job, and each attempt and its lineage are recorded as
// the kind classified them.
func TestTransportOfANewKind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	u, err := account.UserCreate(ctx, pool, account.NewUser{Email: "memo@shop.example", Role: account.RoleAdmin, Password: "a long enough password"})
	require.NoError(t, err)
	ed := mappings.Editor{UserID: u.ID, Email: u.Email}
	def, err := engine.ParseDefinition([]byte(memoDefinition))
	require.NoError(t, err, "the definition format takes any kind name")
	flow, err := mappings.FlowCreate(ctx, pool, mappings.NewFlow{Name: "Notes", Slug: "notes", Definition: def}, ed)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, pool, flow.ID, 1, "v1", ed)
	require.NoError(t, err)
	env, err := release.EnvironmentByName(ctx, pool, "dev")
	require.NoError(t, err)

	memo := &memoTransport{received: map[uuid.UUID][]string{}}
	transports := pipeline.Transports(pool, nil)
	transports.Register(memo) // the one line that adds a kind

	gates, err := release.CheckGates(ctx, pool, transports, env, def, time.Now())
	require.NoError(t, err)
	require.Equal(t, []string{"target “notebook” is not configured in dev"}, gates.Failures(), "the kind needs configuration")

	// Configured as the target form does it: the kind's fields read
	// into a configuration, stored through the one domain operation.
	admin := release.User(u, "127.0.0.1")
	configure := func(values map[string]string) error {
		cfg := release.DefaultTargetConfig(env.ID, "notebook")
		memo.Apply(&cfg, values)
		_, err := release.ConfigureTarget(ctx, pool, nil, transports, admin, release.TargetConfiguration{Environment: env, Kind: "memo", Config: cfg})
		return err
	}
	// A configuration stored some other way (an older installation, SQL)
	// is checked by the kind at the gates.
	_, err = release.TargetConfigPut(ctx, pool, nil, release.DefaultTargetConfig(env.ID, "notebook"), ed)
	require.NoError(t, err)
	gates, err = release.CheckGates(ctx, pool, transports, env, def, time.Now())
	require.NoError(t, err)
	require.Equal(t, []string{"target “notebook” is configured in dev, but Shelf: name the shelf the memos go on"}, gates.Failures())
	fe, ok := fault.As(configure(map[string]string{"shelf": " "}))
	require.True(t, ok, "a refusal is a fault")
	require.Equal(t, map[string]string{"shelf": "name the shelf the memos go on"}, fe.Fields, "the kind's check refuses it: %v", fe)
	require.NoError(t, configure(map[string]string{"shelf": "top"}))
	gates, err = release.CheckGates(ctx, pool, transports, env, def, time.Now())
	require.NoError(t, err)
	require.True(t, gates.Passed(), "configured, the kind passes the gates: %v", gates.Failures())
	gates, err = release.CheckGates(ctx, pool, pipeline.Transports(pool, nil), env, def, time.Now())
	require.NoError(t, err)
	require.Equal(t, []string{"target “notebook” has kind “memo”, which this installation cannot deliver to"}, gates.Failures(),
		"without its transport the kind fails the gates")
	dbtest.Deploy(t, pool, env.ID, flow.ID, 1)

	sealer := jobstest.NewSealer(t)
	client, err := jobs.NewClient(pool, nil, jobs.Config{Sealer: sealer, Transports: transports, FetchPollInterval: 50 * time.Millisecond, FetchCooldown: time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
	b := &jobstest.Bundle{Pool: pool, Client: client, Intake: intake.New(pool, client, intake.Config{})}

	accept := func(payload string) intake.AcceptResult {
		res, err := b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "notes", Payload: []byte(payload)})
		require.NoError(t, err)
		return res
	}

	t.Run("first attempt", func(t *testing.T) {
		v := b.WaitStatus(t, accept(`{"id": "n1", "text": "hello"}`).MessageID, store.StatusDelivered)
		require.Len(t, v.Deliveries, 1)
		d := v.Deliveries[0]
		require.Equal(t, "memo", d.TargetKind)
		require.Equal(t, []string{`top: {"text":"hello"}`}, memo.bodies(d.ID), "sent with the environment's settings")
		require.Len(t, d.AttemptLog, 1)
		require.Equal(t, "delivered", d.AttemptLog[0].Outcome)
		require.Equal(t, []store.Stage{store.StageReceived, store.StageValidated, store.StageMapped, store.StageRouted, store.StageQueued,
			store.StageDelivering, store.StageDelivered}, jobstest.Stages(v))
	})

	t.Run("retried", func(t *testing.T) {
		v := b.WaitStatus(t, accept(`{"id": "n2", "text": "again"}`).MessageID, store.StatusDelivered)
		d := v.Deliveries[0]
		require.Len(t, memo.bodies(d.ID), 2)
		require.Len(t, d.AttemptLog, 2)
		require.Equal(t, "retry", d.AttemptLog[0].Outcome)
		require.Equal(t, "the memo was busy", d.AttemptLog[0].Error)
		require.Equal(t, "delivered", d.AttemptLog[1].Outcome)
		require.Contains(t, jobstest.Stages(v), store.StageRetryScheduled)
		require.Equal(t, store.StageDelivered, jobstest.Stages(v)[len(jobstest.Stages(v))-1])
	})
}

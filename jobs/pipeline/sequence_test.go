package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// updatesDefinition is a flow of numbered updates of business objects:
// source.key is the sequence key, source.n the update's number; an update
// with "ok": false fails validation.
const updatesDefinition = `{
	"formatVersion": 1,
	"name": "updates",
	"source": {"system": "shop", "event": "object.updated"},
	"keys": {"idempotency": "source.key + \"-\" + string(source.n)", "correlation": "source.key"%s},
	"validation": [{"name": "ok", "rule": "source.ok ?? true", "message": "The update is not ok."}],
	"targets": [{"name": "erp", "kind": "http"}],
	"routes": [{"name": "to-erp", "target": "erp", "mapping": [
		{"target": "key", "expr": "source.key"},
		{"target": "n", "expr": "source.n"}
	]}]
}`

// received is one request the sequence target was sent.
type received struct {
	key, idem string
	n         int
	status    int
}

// seqTarget is an HTTP target that logs every request and answers 503 to
// a share of them (at random).
type seqTarget struct {
	*httptest.Server
	mu   sync.Mutex
	log  []received
	fail float64
	// gate, when set, is waited on before answering update 1.
	gate chan struct{}
}

func newSeqTarget(t *testing.T, fail float64) *seqTarget {
	tg := &seqTarget{fail: fail}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Key string `json:"key"`
			N   int    `json:"n"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		tg.mu.Lock()
		gate := tg.gate
		tg.mu.Unlock()
		if gate != nil && body.N == 1 {
			<-gate
		}
		status := http.StatusOK
		if rand.Float64() < tg.fail {
			status = http.StatusServiceUnavailable
		}
		tg.mu.Lock()
		tg.log = append(tg.log, received{key: body.Key, idem: r.Header.Get("Idempotency-Key"), n: body.N, status: status})
		tg.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *seqTarget) requests() []received {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]received(nil), tg.log...)
}

// delivered are the numbers of key's updates the target took (2xx), in
// the order it took them.
func (tg *seqTarget) delivered(key string) []int {
	var ns []int
	for _, r := range tg.requests() {
		if r.key == key && r.status == http.StatusOK {
			ns = append(ns, r.n)
		}
	}
	return ns
}

type seqBundle struct {
	*jobstest.Bundle
	target *seqTarget
	flow   mappings.Flow
}

// setupSequence deploys the updates flow (with keys seq, e.g. `,
// "sequence": "source.key"`) to dev beside orders and points target erp at a seqTarget
// failing the given share of requests.
func setupSequence(t *testing.T, seq string, fail float64) *seqBundle {
	b := jobstest.Setup(t, true)
	ctx := context.Background()
	def, err := engine.ParseDefinition(fmt.Appendf(nil, updatesDefinition, seq))
	require.NoError(t, err)
	flow, err := mappings.FlowCreate(ctx, b.Pool, mappings.NewFlow{Name: "Updates", Slug: "updates", Definition: def}, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, flow.ID, 1, "v1", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, flow.ID, 1)
	tg := newSeqTarget(t, fail)
	b.ConfigureERP(t, tg.URL, func(c *release.TargetConfig) {
		c.Retry = release.RetryPolicy{MaxAttempts: 30, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, Window: time.Minute}
		c.Timeout = 20 * time.Second
	})
	return &seqBundle{Bundle: b, target: tg, flow: flow}
}

func (b *seqBundle) post(t *testing.T, key string, n int, extra string) uuid.UUID {
	t.Helper()
	payload := fmt.Sprintf(`{"key": %q, "n": %d%s}`, key, n, extra)
	res, err := b.Intake.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "updates", Payload: []byte(payload)})
	require.NoError(t, err)
	return res.MessageID
}

// waitDelivered waits until want messages of the updates flow are delivered.
func (b *seqBundle) waitDelivered(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := b.CountRows(t, `select count(*) from messages where flow_id = $1 and status = 'delivered'`, b.flow.ID)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages delivered, want %d", n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *seqBundle) actor() account.Actor {
	return account.Actor{UserID: b.Editor.UserID, Email: b.Editor.Email}
}

func (b *seqBundle) tx(t *testing.T, f func(pgx.Tx) error) {
	t.Helper()
	require.NoError(t, txn.Run(context.Background(), b.Pool, f))
}

func TestSequence(t *testing.T) {
	t.Parallel()

	// Updates of 20 keys, each key's posted one after the other and the
	// keys concurrently, to a target refusing 30 % of requests: each
	// update is delivered exactly once per idempotency key, and per key
	// no request of an update reaches the target before the previous
	// update was delivered.
	t.Run("ordered per key through retries", func(t *testing.T) {
		t.Parallel()
		b := setupSequence(t, `, "sequence": "source.key"`, 0.3)
		const keys, updates = 20, 15
		var wg sync.WaitGroup
		for k := range keys {
			wg.Go(func() {
				for n := 1; n <= updates; n++ {
					b.post(t, fmt.Sprintf("K%02d", k), n, "")
				}
			})
		}
		wg.Wait()
		b.waitDelivered(t, keys*updates)

		log := b.target.requests()
		okByIdem := map[string]int{}
		for _, r := range log {
			if r.status == http.StatusOK {
				okByIdem[r.idem]++
			}
		}
		require.Len(t, okByIdem, keys*updates)
		for idem, n := range okByIdem {
			require.Equal(t, 1, n, "delivery %s taken %d times", idem, n)
		}
		failed := 0
		for k := range keys {
			key := fmt.Sprintf("K%02d", k)
			last := 0 // the last update of key delivered
			for _, r := range log {
				if r.key != key {
					continue
				}
				require.Equal(t, last+1, r.n, "key %s: update %d sent after update %d was delivered", key, r.n, last)
				if r.status == http.StatusOK {
					last = r.n
				} else {
					failed++
				}
			}
			require.Equal(t, updates, last, "key %s", key)
		}
		require.NotZero(t, failed, "the target refused nothing")
		require.Zero(t, b.CountRows(t, `select count(*) from deliveries where status = 'held'`))
	})

	// Update 3 of key K fails validation: 4–10 are held behind it while
	// key L delivers; replaying 3 with its payload fixed delivers 3, then
	// 4–10 in order.
	t.Run("poison message held until replayed", func(t *testing.T) {
		t.Parallel()
		b := setupSequence(t, `, "sequence": "source.key"`, 0)
		ctx := context.Background()
		ids := map[int]uuid.UUID{}
		for n := 1; n <= 10; n++ {
			extra := ""
			if n == 3 {
				extra = `, "ok": false`
			}
			ids[n] = b.post(t, "K", n, extra)
		}
		for n := 1; n <= 5; n++ {
			b.post(t, "L", n, "")
		}
		b.waitDelivered(t, 2+5)
		b.WaitStatus(t, ids[3], store.StatusRejected)
		for n := 4; n <= 10; n++ {
			v := b.WaitStatus(t, ids[n], store.StatusHeld)
			require.Equal(t, store.DeliveryHeld, v.Deliveries[0].Status)
			require.Equal(t, &store.SequenceState{Key: "K", HeldBehind: &[]uuid.UUID{ids[3]}[0]}, v.Sequence, "update %d", n)
		}
		require.Equal(t, []int{1, 2}, b.target.delivered("K"))
		require.Equal(t, []int{1, 2, 3, 4, 5}, b.target.delivered("L"))

		ex, err := store.ExceptionsOfMessage(ctx, b.Pool, ids[3])
		require.NoError(t, err)
		require.Len(t, ex, 1)
		it, err := inbox.ExceptionGet(ctx, b.Pool, ex[0].ID)
		require.NoError(t, err)
		require.Equal(t, &store.SequenceState{Key: "K", Blocking: 7}, it.Sequence, "blocking 7 later messages for key K")
		var revision uuid.UUID
		b.tx(t, func(tx pgx.Tx) error {
			revision, err = inbox.ExceptionReplay(ctx, tx, b.Client, inbox.ReplayRequest{ExceptionID: ex[0].ID,
				Payload: []byte(`{"key": "K", "n": 3}`), Reason: "fixed", Actor: b.actor()})
			return err
		})
		b.WaitStatus(t, revision, store.StatusDelivered)
		b.waitDelivered(t, 10+5)
		require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, b.target.delivered("K"))
	})

	// Ignoring the exception of update 3 releases 4–10 without it.
	t.Run("poison message ignored", func(t *testing.T) {
		t.Parallel()
		b := setupSequence(t, `, "sequence": "source.key"`, 0)
		ctx := context.Background()
		ids := map[int]uuid.UUID{}
		for n := 1; n <= 10; n++ {
			extra := ""
			if n == 3 {
				extra = `, "ok": false`
			}
			ids[n] = b.post(t, "K", n, extra)
		}
		b.waitDelivered(t, 2)
		b.WaitStatus(t, ids[10], store.StatusHeld)
		ex, err := store.ExceptionsOfMessage(ctx, b.Pool, ids[3])
		require.NoError(t, err)
		b.tx(t, func(tx pgx.Tx) error {
			return inbox.ExceptionIgnore(ctx, tx, b.Client, ex[0].ID, "test update, not needed", b.actor())
		})
		b.waitDelivered(t, 9)
		require.Equal(t, []int{1, 2, 4, 5, 6, 7, 8, 9, 10}, b.target.delivered("K"))
		v := b.WaitStatus(t, ids[4], store.StatusDelivered)
		require.Contains(t, jobstest.Stages(v), store.StageHeld)
	})

	// The lines of a batch are in the order of their position, though the
	// batch is inserted sorted by idempotency key (B-10 before B-2).
	t.Run("batch lines in order", func(t *testing.T) {
		t.Parallel()
		b := setupSequence(t, `, "sequence": "source.key"`, 0.3)
		var lines [][]byte
		for n := 1; n <= 12; n++ {
			lines = append(lines, fmt.Appendf(nil, `{"key": "B", "n": %d}`, n))
		}
		res, err := b.Intake.AcceptBatch(context.Background(), intake.BatchRequest{Env: "dev", FlowSlug: "updates", Lines: lines})
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
		b.waitDelivered(t, 12)
		require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b.target.delivered("B"))
	})

	// In latest mode, of the updates that waited together behind update 1
	// only the newest is delivered; the others are superseded by it.
	t.Run("latest delivers the newest waiting", func(t *testing.T) {
		t.Parallel()
		b := setupSequence(t, `, "sequence": "source.key", "sequenceMode": "latest"`, 0)
		gate := make(chan struct{})
		b.target.mu.Lock()
		b.target.gate = gate
		b.target.mu.Unlock()
		ids := map[int]uuid.UUID{}
		ids[1] = b.post(t, "SKU", 1, "")
		b.WaitStatus(t, ids[1], store.StatusQueued)
		for n := 2; n <= 6; n++ {
			ids[n] = b.post(t, "SKU", n, "")
		}
		for n := 2; n <= 6; n++ {
			b.WaitStatus(t, ids[n], store.StatusHeld)
		}
		close(gate)
		b.WaitStatus(t, ids[6], store.StatusDelivered)
		for n := 2; n <= 5; n++ {
			v := b.WaitStatus(t, ids[n], store.StatusSuperseded)
			require.Equal(t, store.DeliverySuperseded, v.Deliveries[0].Status)
			require.Equal(t, ids[6], *v.Deliveries[0].SupersededBy)
			require.Contains(t, jobstest.Stages(v), store.StageSuperseded)
		}
		require.Equal(t, []int{1, 6}, b.target.delivered("SKU"))
		// A later update waits for nothing superseded.
		ids[7] = b.post(t, "SKU", 7, "")
		b.WaitStatus(t, ids[7], store.StatusDelivered)
		require.Equal(t, []int{1, 6, 7}, b.target.delivered("SKU"))
	})

	// The orphan check wakes a lane whose held delivery has waited long
	// with nothing before it, as if its wake-up had been lost.
	t.Run("orphan check wakes a stale lane", func(t *testing.T) {
		t.Parallel()
		b := setupSequence(t, `, "sequence": "source.key"`, 0)
		ctx := context.Background()
		id := b.post(t, "K", 1, "")
		b.WaitStatus(t, id, store.StatusDelivered)
		_, err := b.Pool.Exec(ctx, `update deliveries set status = 'held', updated_at = now() - interval '10 minutes' where message_id = $1`, id)
		require.NoError(t, err)
		require.NoError(t, store.SetMessageStatus(ctx, b.Pool, id, store.StatusHeld))
		check := rivertest.NewWorker(t, riverpgxv5.New(b.Pool), &river.Config{}, &pipeline.OrphanCheckWorker{DB: b.Pool})
		b.tx(t, func(tx pgx.Tx) error {
			_, err := check.Work(ctx, t, tx, pipeline.OrphanCheckArgs{}, nil)
			return err
		})
		v := b.WaitStatus(t, id, store.StatusDelivered)
		require.Equal(t, 2, v.Deliveries[0].Attempts)
	})

	// A flow without a sequence key delivers as before: nothing is held,
	// no message has a key.
	t.Run("unordered", func(t *testing.T) {
		t.Parallel()
		b := setupSequence(t, ``, 0)
		var ids []uuid.UUID
		for n := 1; n <= 10; n++ {
			ids = append(ids, b.post(t, "K", n, ""))
		}
		b.waitDelivered(t, 10)
		for _, id := range ids {
			v := b.WaitStatus(t, id, store.StatusDelivered)
			require.NotContains(t, jobstest.Stages(v), store.StageHeld)
			require.Empty(t, v.Message.SequenceKey)
		}
		require.Zero(t, b.CountRows(t, `select count(*) from messages where sequence_key is not null or sequence_n is not null`))
	})
}

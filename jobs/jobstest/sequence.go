package jobstest

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
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// updatesDefinition is a flow of numbered updates of business objects:
// source.key names the object, source.n the update; an update with
// "ok": false fails validation. %s adds to keys (a sequence key).
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

// Update is one request an UpdatesTarget was sent.
type Update struct {
	Key, IdempotencyKey string
	N                   int
	Status              int
	// At is when the target got the request.
	At time.Time
}

// UpdatesTarget is an HTTP target for the updates flow that logs every
// request and answers 503 to a share of them, at random.
type UpdatesTarget struct {
	*httptest.Server
	mu     sync.Mutex
	log    []Update
	fail   float64
	gate   chan struct{}
	refuse Update // Key and N of the update to refuse
}

// SetRefuse makes the target answer 422 to update n of key (n 0: to
// none).
func (tg *UpdatesTarget) SetRefuse(key string, n int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.refuse = Update{Key: key, N: n}
}

// SetGate makes the target wait for gate to close before it answers
// update 1 of any key.
func (tg *UpdatesTarget) SetGate(gate chan struct{}) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.gate = gate
}

// Requests are the requests the target was sent, in order.
func (tg *UpdatesTarget) Requests() []Update {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]Update(nil), tg.log...)
}

// Delivered are the numbers of key's updates the target took (2xx), in
// the order it took them.
func (tg *UpdatesTarget) Delivered(key string) []int {
	var ns []int
	for _, r := range tg.Requests() {
		if r.Key == key && r.Status == http.StatusOK {
			ns = append(ns, r.N)
		}
	}
	return ns
}

// Updates is the updates flow deployed to dev beside orders, with target
// erp pointed at an UpdatesTarget.
type Updates struct {
	*Bundle
	Target *UpdatesTarget
	Flow   mappings.Flow
}

// SetupUpdates gives a test a started bundle with the updates flow
// deployed to dev, its keys extended by keys (e.g. `, "sequence":
// "source.key"`), and target erp answering 503 to the share fail of
// requests, with a retry policy that outlasts them.
func SetupUpdates(t testing.TB, keys string, fail float64) *Updates {
	t.Helper()
	b := Setup(t, true)
	ctx := context.Background()
	def, err := engine.ParseDefinition(fmt.Appendf(nil, updatesDefinition, keys))
	require.NoError(t, err)
	flow, err := mappings.FlowCreate(ctx, b.Pool, mappings.NewFlow{Name: "Updates", Slug: "updates", Definition: def}, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, flow.ID, 1, "v1", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, flow.ID, 1)
	tg := &UpdatesTarget{fail: fail}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Key string `json:"key"`
			N   int    `json:"n"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		tg.mu.Lock()
		gate, refuse := tg.gate, tg.refuse
		tg.mu.Unlock()
		if gate != nil && body.N == 1 {
			<-gate
		}
		status := http.StatusOK
		switch {
		case refuse.N != 0 && body.N == refuse.N && body.Key == refuse.Key:
			status = http.StatusUnprocessableEntity
		case rand.Float64() < tg.fail:
			status = http.StatusServiceUnavailable
		}
		tg.mu.Lock()
		tg.log = append(tg.log, Update{Key: body.Key, IdempotencyKey: r.Header.Get("Idempotency-Key"), N: body.N, Status: status, At: time.Now()})
		tg.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(tg.Close)
	b.ConfigureERP(t, tg.URL, func(c *release.TargetConfig) {
		c.Retry = release.RetryPolicy{MaxAttempts: 30, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, Window: time.Minute}
		c.Timeout = 20 * time.Second
	})
	return &Updates{Bundle: b, Target: tg, Flow: flow}
}

// Post accepts update n of key, its payload extended by extra (e.g. `,
// "ok": false`).
func (b *Updates) Post(t testing.TB, key string, n int, extra string) uuid.UUID {
	t.Helper()
	payload := fmt.Sprintf(`{"key": %q, "n": %d%s}`, key, n, extra)
	res, err := b.Intake.Accept(context.Background(), intake.AcceptRequest{Env: "dev", FlowSlug: "updates", Payload: []byte(payload)})
	require.NoError(t, err)
	return res.MessageID
}

// WaitDelivered waits until want messages of the updates flow are
// delivered (or fails the test after a minute).
func (b *Updates) WaitDelivered(t testing.TB, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := b.CountRows(t, `select count(*) from messages where flow_id = $1 and status = 'delivered'`, b.Flow.ID)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages delivered, want %d", n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Package capture is the capture target kind: instead of sending, it
// records the request an http target would have made (method, URL,
// headers with the credential masked, body) in the captures table, for
// dev and demos. It needs no configuration; a configured URL or method is
// used when there is one. A body in a format other than JSON is recorded
// as a JSON string holding it.
package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/jobs/transport/httptarget"
	"github.com/crossdock/crossdock/mappings/release"
)

// Kind is the capture kind's name in definitions.
const Kind transport.Kind = engine.TargetCapture

// Execer writes captures: a pool or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Transport records deliveries instead of sending them.
type Transport struct {
	transport.NoSettings
	db Execer
}

// New returns the capture transport writing to db.
func New(db Execer) *Transport { return &Transport{db: db} }

// Kind is "capture".
func (*Transport) Kind() transport.Kind { return Kind }

// Traits: nothing to configure; each capture is its own deliver job.
func (*Transport) Traits() transport.Traits {
	return transport.Traits{Label: "capture (records what it would send)"}
}

// Redact shows nothing: the capture itself is on the delivery.
func (*Transport) Redact(release.TargetConfig, transport.Delivery) map[string]string { return nil }

// Send records the request; running twice records it once.
func (t *Transport) Send(ctx context.Context, a transport.Attempt) (transport.Outcome, error) {
	started := time.Now()
	url := httptarget.URL(a)
	if url == "" {
		url = "capture://" + a.Target
	}
	// captures.body is JSON: a body in another format (XML, CSV) is
	// recorded as one JSON string, its Content-Type header says which.
	body := a.Body
	if a.ContentType != "" && a.ContentType != "application/json" {
		var err error
		if body, err = json.Marshal(string(a.Body)); err != nil {
			return transport.Outcome{}, fmt.Errorf("capture delivery %s: %w", a.ID, err)
		}
	}
	if _, err := t.db.Exec(ctx, captureInsert,
		a.ID, a.EnvironmentID, a.Target, a.Config.Method, url, httptarget.MaskedHeader(a.Config, httptarget.Header(a.Config, a.Delivery)), body); err != nil {
		return transport.Outcome{}, fmt.Errorf("capture delivery %s: %w", a.ID, err)
	}
	return transport.Outcome{Verdict: transport.Delivered, As: "captured", Started: started, Latency: time.Since(started)}, nil
}

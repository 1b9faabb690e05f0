package pipeline_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings/release"
)

// seenRequest is what a test server was sent.
type seenRequest struct {
	path   string
	header http.Header
	body   string
}

// recorder is an httptest server that records requests and answers with
// answer.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newRecorder(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.seen = append(rec.seen, seenRequest{path: r.URL.Path, header: r.Header.Clone(), body: string(body)})
		rec.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) requests() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.seen...)
}

// stageDetail is the detail of the message's last lineage event of stage.
func stageDetail(t *testing.T, v store.MessageView, stage store.Stage) map[string]any {
	t.Helper()
	var detail map[string]any
	for _, e := range v.Lineage {
		if e.Stage == stage {
			detail = nil
			require.NoError(t, json.Unmarshal(e.Detail, &detail))
		}
	}
	require.NotNil(t, detail, "no %s event in the lineage", stage)
	return detail
}

// TestTargetRedirects: a target's credentials never leave its origin. A
// redirect to another origin (here another port of the same host, which
// net/http would treat as the same host) is not followed and is a delivery
// exception; a redirect within the origin is followed with every header.
// Both are recorded in the attempt's lineage.
func TestTargetRedirects(t *testing.T) {
	t.Parallel()
	auths := []struct {
		name  string
		auth  func(*release.TargetConfig)
		check func(h http.Header) string
	}{
		{"header credential", func(c *release.TargetConfig) {
			c.Auth, c.AuthHeaderName = release.AuthHeader, "X-Api-Key"
		}, func(h http.Header) string { return h.Get("X-Api-Key") }},
		{"bearer credential", func(c *release.TargetConfig) {
			c.Auth = release.AuthBearer
		}, func(h http.Header) string { return strings.TrimPrefix(h.Get("Authorization"), "Bearer ") }},
	}
	for _, a := range auths {
		t.Run("another origin is not followed, "+a.name, func(t *testing.T) {
			t.Parallel()
			b := jobstest.Setup(t, true)
			elsewhere := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
			target := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+"/collect", http.StatusTemporaryRedirect)
			})
			b.ConfigureERP(t, target.URL, a.auth)
			acc := b.Accept(t, `{"id": 71, "name": "#71", "total": 10}`)
			v := b.WaitStatus(t, acc.MessageID, store.StatusFailed)

			require.Empty(t, elsewhere.requests(), "nothing, and no credential, reaches the other origin")
			sent := target.requests()
			require.Len(t, sent, 1, "a redirect elsewhere is not retried")
			require.Equal(t, jobstest.Secret, a.check(sent[0].header), "the target itself got the credential")

			d := v.Deliveries[0]
			require.Equal(t, store.DeliveryFailed, d.Status)
			require.Len(t, d.AttemptLog, 1)
			require.Equal(t, http.StatusTemporaryRedirect, *d.AttemptLog[0].StatusCode)
			require.Contains(t, d.AttemptLog[0].Error, "redirecting to "+elsewhere.URL+"/collect")
			require.Contains(t, d.AttemptLog[0].Error, "nothing was sent there")
			require.Equal(t, elsewhere.URL+"/collect", stageDetail(t, v, store.StageFailed)["redirectedTo"])
			require.Len(t, v.Exceptions, 1)
			require.Equal(t, store.ExceptionDelivery, v.Exceptions[0].Kind)
			require.Equal(t, "redirect to another origin", v.Exceptions[0].ErrorClass)
			b.RequireNoSecret(t, v)
		})
		t.Run("same origin is followed with the credential, "+a.name, func(t *testing.T) {
			t.Parallel()
			b := jobstest.Setup(t, true)
			target := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/orders/") {
					http.Redirect(w, r, "/v2"+r.URL.EscapedPath(), http.StatusPermanentRedirect)
					return
				}
				w.WriteHeader(http.StatusCreated)
			})
			b.ConfigureERP(t, target.URL, a.auth)
			acc := b.Accept(t, `{"id": 72, "name": "#72", "total": 10}`)
			v := b.WaitStatus(t, acc.MessageID, store.StatusDelivered)

			sent := target.requests()
			require.Len(t, sent, 2)
			require.Equal(t, "/v2/orders/#72", sent[1].path)
			require.Equal(t, jobstest.Secret, a.check(sent[1].header), "the credential follows a redirect within the origin")
			require.Equal(t, "shop", sent[1].header.Get("X-Tenant"), "so do the other headers")
			require.Equal(t, sent[0].header.Get("Idempotency-Key"), sent[1].header.Get("Idempotency-Key"))
			require.JSONEq(t, sent[0].body, sent[1].body, "a 308 keeps the body")
			require.Equal(t, []any{target.URL + "/v2/orders/%2372"}, stageDetail(t, v, store.StageDelivered)["redirects"])
			b.RequireNoSecret(t, v)
		})
	}
}

// TestTargetRedirectsThatWouldDropTheBody: within the origin, a 302 to a
// POST is not followed (net/http would resend it as a GET without the
// body, and the delivery would count as delivered); a 303 is, as a GET of
// the result the target points at.
func TestTargetRedirectsThatWouldDropTheBody(t *testing.T) {
	t.Parallel()
	redirectWith := func(code int) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/orders/") {
				http.Redirect(w, r, "/moved", code)
				return
			}
			w.WriteHeader(http.StatusOK)
		}
	}
	t.Run("302 is not followed", func(t *testing.T) {
		t.Parallel()
		b := jobstest.Setup(t, true)
		target := newRecorder(t, redirectWith(http.StatusFound))
		b.ConfigureERP(t, target.URL, nil)
		acc := b.Accept(t, `{"id": 73, "name": "#73", "total": 10}`)
		v := b.WaitStatus(t, acc.MessageID, store.StatusFailed)
		require.Len(t, target.requests(), 1, "/moved is never asked")
		require.Len(t, v.Exceptions, 1)
		require.Equal(t, "redirect 302", v.Exceptions[0].ErrorClass)
		require.Contains(t, v.Exceptions[0].Message, "as a GET without its body")
		require.Equal(t, target.URL+"/moved", stageDetail(t, v, store.StageFailed)["redirectedTo"])
	})
	t.Run("303 is followed as a GET", func(t *testing.T) {
		t.Parallel()
		b := jobstest.Setup(t, true)
		target := newRecorder(t, redirectWith(http.StatusSeeOther))
		b.ConfigureERP(t, target.URL, nil)
		acc := b.Accept(t, `{"id": 74, "name": "#74", "total": 10}`)
		v := b.WaitStatus(t, acc.MessageID, store.StatusDelivered)
		sent := target.requests()
		require.Len(t, sent, 2)
		require.Equal(t, "/moved", sent[1].path)
		require.Equal(t, []any{target.URL + "/moved"}, stageDetail(t, v, store.StageDelivered)["redirects"])
	})
}

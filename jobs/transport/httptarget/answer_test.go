package httptarget

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
)

// A delivered attempt carries the target's answer for the steps after it:
// status, headers without credentials or cookies, the body up to
// AnswerLimit, the secret masked everywhere.
func TestSendKeepsTheAnswer(t *testing.T) {
	t.Parallel()
	const secret = "tok_answer_secret_1"
	send := func(t *testing.T, status int, body string) transport.Outcome {
		t.Helper()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Location", "/orders/D-1")
			w.Header().Add("X-Trace", "a")
			w.Header().Add("X-Trace", "b")
			w.Header().Set("Set-Cookie", "s=1")
			w.Header().Set("X-Api-Key", secret)
			w.Header().Set("X-Echo", "key "+secret)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		cfg := release.TargetConfig{URLTemplate: srv.URL, Method: http.MethodPost, Timeout: 5 * time.Second,
			Auth: release.AuthHeader, AuthHeaderName: "X-Api-Key", Secret: secret}
		res, err := New(nil).Send(context.Background(), transport.Attempt{Delivery: transport.Delivery{ID: uuid.New(), Body: []byte(`{}`)}, Config: cfg})
		require.NoError(t, err)
		return res
	}

	t.Run("delivered", func(t *testing.T) {
		t.Parallel()
		res := send(t, http.StatusCreated, `{"documentNumber": "D-1", "echo": "`+secret+`"}`)
		require.Equal(t, transport.Delivered, res.Verdict)
		a := res.Answer
		require.NotNil(t, a)
		require.Equal(t, 201, a.Status)
		require.Equal(t, "/orders/D-1", a.Headers["location"])
		require.Equal(t, "a, b", a.Headers["x-trace"])
		require.NotContains(t, a.Headers, "set-cookie")
		require.NotContains(t, a.Headers, "x-api-key", "the credential's own header is left out")
		require.Equal(t, "key ••••••", a.Headers["x-echo"])
		require.Equal(t, `{"documentNumber": "D-1", "echo": "••••••"}`, string(a.Body))
		require.False(t, a.Truncated)
	})

	t.Run("a long body is cut at the limit", func(t *testing.T) {
		t.Parallel()
		res := send(t, http.StatusOK, strings.Repeat("x", transport.AnswerLimit+10))
		require.Len(t, res.Answer.Body, transport.AnswerLimit)
		require.True(t, res.Answer.Truncated)
		require.Len(t, res.Excerpt, ResponseExcerptLimit, "the excerpt stays short")
	})

	t.Run("a refusal has no answer", func(t *testing.T) {
		t.Parallel()
		res := send(t, http.StatusUnprocessableEntity, `{"error": "no"}`)
		require.Equal(t, transport.Failed, res.Verdict)
		require.Nil(t, res.Answer)
	})
}

package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

// TestAPIKeysLimitedToAFlowReadOnlyThatFlow: a key limited to a flow reads
// that flow's message by id and its promotion requests; a key limited to
// another flow of the same environment gets 404 and an empty list.
func TestAPIKeysLimitedToAFlowReadOnlyThatFlow(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ctx := context.Background()
	key := func(flow string) string {
		_, token, err := account.APIKeyCreate(ctx, f.db, account.NewAPIKey{Name: "limited to " + flow, Environment: "dev", Flows: []string{flow},
			CanManage: true, CanSupport: true, RatePerMinute: 100000}, account.SystemActor)
		require.NoError(t, err)
		return token
	}
	own, other := key("shop-orders"), key("not-deployed")

	t.Run("a message by id", func(t *testing.T) {
		res, out := f.keyAPI(t, own, http.MethodGet, "/api/v1/messages/"+f.messageID, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.Equal(t, "shop-orders", out["message"].(map[string]any)["flow"])
		res, _ = f.keyAPI(t, other, http.MethodGet, "/api/v1/messages/"+f.messageID, nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode, res.body)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		require.NotContains(t, res.body, "shop-orders")
	})
	t.Run("promotion requests", func(t *testing.T) {
		res, out := f.keyAPI(t, own, http.MethodGet, "/api/v1/promotions", nil)
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.Len(t, out["requests"], 1)
		res, out = f.keyAPI(t, other, http.MethodGet, "/api/v1/promotions", nil)
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.Empty(t, out["requests"])
	})
}

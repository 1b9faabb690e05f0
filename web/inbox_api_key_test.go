package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

// keyAPI calls the JSON API with an API key and no session.
func (tb *triggerBundle) keyAPI(t *testing.T, key, method, path string, body any) (response, map[string]any) {
	t.Helper()
	raw := ""
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		raw = string(b)
	}
	req := httptest.NewRequest(method, path, strings.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res := tb.browser(t).do(req)
	var out map[string]any
	_ = json.Unmarshal([]byte(res.body), &out)
	return res, out
}

func TestInboxAPIWithSupportKeys(t *testing.T) {
	t.Parallel()
	tb, items := setupInbox(t)
	ctx := context.Background()
	sam := tb.user(t, "sam@shop.example", account.RoleSupport)
	newKey := func(nk account.NewAPIKey) (account.APIKey, string) {
		nk.Name = "bot"
		k, token, err := account.APIKeyCreate(ctx, tb.db, nk, account.SystemActor)
		require.NoError(t, err)
		return k, token
	}
	devKey, dev := newKey(account.NewAPIKey{Environment: "dev", CanSupport: true})
	_, prod := newKey(account.NewAPIKey{Environment: "prod", CanSupport: true})
	_, otherFlow := newKey(account.NewAPIKey{Environment: "dev", Flows: []string{"not-deployed"}, CanSupport: true})
	_, manageOnly := newKey(account.NewAPIKey{Environment: "dev", CanManage: true})
	a, b := fmt.Sprint(items[0].ID), fmt.Sprint(items[1].ID)

	// Keys without the support permission are refused, trigger-only and
	// manage-only alike (the management API spans environments).
	for _, k := range []string{tb.devKey, manageOnly} {
		res, _ := tb.keyAPI(t, k, http.MethodGet, "/api/v1/exceptions", nil)
		require.Equal(t, http.StatusForbidden, res.StatusCode, res.body)
		require.Contains(t, res.body, "support permission")
		res, _ = tb.keyAPI(t, k, http.MethodPost, "/api/v1/exceptions/"+a+"/resolve", map[string]any{"reason": "x"})
		require.Equal(t, http.StatusForbidden, res.StatusCode, res.body)
	}

	// A support key reads its own environment.
	res, out := tb.keyAPI(t, dev, http.MethodGet, "/api/v1/exceptions", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Len(t, out["items"], 2)
	res, out = tb.keyAPI(t, dev, http.MethodGet, "/api/v1/exception-groups", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Len(t, out["items"], 1)
	res, _ = tb.keyAPI(t, dev, http.MethodGet, fmt.Sprintf("/api/v1/exception-groups/%d", items[0].GroupID), nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	res, out = tb.keyAPI(t, dev, http.MethodGet, "/api/v1/exceptions/"+a, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.NotNil(t, out["exception"])
	res, _ = tb.keyAPI(t, dev, http.MethodGet, "/api/v1/exceptions?env=prod", nil)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "asking for another environment")

	// Other environments' and other flows' exceptions do not exist for a key.
	res, out = tb.keyAPI(t, prod, http.MethodGet, "/api/v1/exceptions", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Empty(t, out["items"], "a prod key lists no dev exceptions")
	res, out = tb.keyAPI(t, prod, http.MethodGet, "/api/v1/exception-groups", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Empty(t, out["items"])
	for _, k := range []string{prod, otherFlow} {
		res, _ = tb.keyAPI(t, k, http.MethodGet, "/api/v1/exceptions/"+a, nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode, res.body)
		res, _ = tb.keyAPI(t, k, http.MethodGet, fmt.Sprintf("/api/v1/exception-groups/%d", items[0].GroupID), nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode, res.body)
		res, _ = tb.keyAPI(t, k, http.MethodPost, "/api/v1/exceptions/"+a+"/resolve", map[string]any{"reason": "x"})
		require.Equal(t, http.StatusNotFound, res.StatusCode, res.body)
	}
	res, _ = tb.keyAPI(t, otherFlow, http.MethodGet, "/api/v1/exceptions?flow=shop-orders", nil)
	require.Equal(t, http.StatusForbidden, res.StatusCode, res.body)

	// It acts as support does, with the same refusals, audited as the key.
	res, out = tb.keyAPI(t, dev, http.MethodPost, "/api/v1/exceptions/"+a+"/assign", map[string]any{"userId": sam.ID})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Equal(t, "assigned", out["status"])
	res, _ = tb.keyAPI(t, dev, http.MethodPost, "/api/v1/exceptions/"+a+"/resolve", map[string]any{"reason": " "})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "resolving needs a reason")
	res, out = tb.keyAPI(t, dev, http.MethodPost, "/api/v1/exceptions/"+a+"/resolve", map[string]any{"reason": "duplicate order"})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Equal(t, "resolved", out["status"])
	res, _ = tb.keyAPI(t, dev, http.MethodPost, "/api/v1/exceptions/"+a+"/retry", nil)
	require.Equal(t, http.StatusConflict, res.StatusCode, "acting on a resolved exception")
	res, _ = tb.keyAPI(t, dev, http.MethodPost, "/api/v1/exceptions/"+b+"/replay", map[string]any{"payload": `{"id": 1,`})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "replaying invalid JSON")
	res, out = tb.keyAPI(t, dev, http.MethodPost, "/api/v1/exceptions/"+b+"/replay", map[string]any{"reason": "after the fix"})
	require.Equal(t, http.StatusCreated, res.StatusCode, res.body)
	require.NotEmpty(t, out["messageId"])

	for _, action := range []string{"exception.assign", "exception.resolve", "exception.replay"} {
		entries, err := account.AuditList(ctx, tb.db, account.AuditFilter{Action: action})
		require.NoError(t, err)
		require.Len(t, entries, 1, action)
		require.Equal(t, "apikey "+devKey.Prefix, entries[0].ActorEmail, action)
	}
}

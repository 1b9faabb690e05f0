package web_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/jobs/inbox"
)

// waitBulkDone polls a bulk action until it has finished.
func waitBulkDone(t *testing.T, get func() (response, map[string]any)) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, out := get()
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		if out["status"] == "done" || out["status"] == "failed" {
			return out
		}
		require.True(t, time.Now().Before(deadline), "bulk action did not finish: %s", res.body)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBulkActionsAPI: POST /api/v1/bulk-actions acts on a group or a
// selection as the inbox's bulk form does, once per Idempotency-Key; GET
// /api/v1/bulk-actions/{id} follows it; API keys act and read within
// their environment only.
func TestBulkActionsAPI(t *testing.T) {
	t.Parallel()
	tb, items := setupInbox(t)
	ctx := context.Background()
	tb.user(t, "vic@shop.example", account.RoleViewer)
	tb.user(t, "sam@shop.example", account.RoleSupport)
	vic, sam := tb.browser(t), tb.browser(t)
	vic.signIn("vic@shop.example")
	sam.signIn("sam@shop.example")
	vic.get("/inbox")
	sam.get("/inbox")
	a, group := items[0], items[0].GroupID
	require.Equal(t, group, items[1].GroupID, "both exceptions are one group")
	bulkCount := func() (n int) {
		require.NoError(t, tb.db.QueryRow(ctx, `select count(*) from bulk_actions`).Scan(&n))
		return n
	}

	// Refusals say what to fix and start nothing.
	for _, c := range []struct {
		body   map[string]any
		status int
		says   string
	}{
		{map[string]any{"action": "retry"}, 422, "name a group (its id) or exceptionIds"},
		{map[string]any{"action": "retry", "group": group, "exceptionIds": []int64{a.ID}}, 422, "not both"},
		{map[string]any{"action": "delete", "group": group}, 422, "not one of retry, replay, resolve, ignore"},
		{map[string]any{"action": "resolve", "group": group}, 422, "a reason is required"},
		{map[string]any{"action": "replay", "group": group, "version": "draft"}, 422, "not the draft"},
		{map[string]any{"action": "replay", "group": group, "version": "v1"}, 422, "version “v1” is not one of ran, deployed"},
		{map[string]any{"action": "retry", "group": 999999}, 404, "no exception group 999999"},
		{map[string]any{"action": "retry", "exceptionIds": []int64{a.ID, 999999}}, 404, "no exception 999999: nothing was started"},
		{map[string]any{"action": "retry", "exceptionIds": make([]int64, inbox.BulkMaxSelection+1)}, 422, "at most 10,000"},
	} {
		res, _ := sam.api(http.MethodPost, "/api/v1/bulk-actions", c.body)
		require.Equal(t, c.status, res.StatusCode, "%v: %s", c.body, res.body)
		require.Contains(t, res.body, c.says)
	}
	res, _ := vic.api(http.MethodPost, "/api/v1/bulk-actions", map[string]any{"action": "retry", "group": group})
	require.Equal(t, http.StatusForbidden, res.StatusCode, "viewers read, support acts")

	// API keys: another environment's exceptions and groups do not exist
	// for a key; a trigger key has no inbox.
	newKey := func(env string) (account.APIKey, string) {
		k, token, err := account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "bot-" + env, Environment: env, CanSupport: true}, account.SystemActor)
		require.NoError(t, err)
		return k, token
	}
	devKey, dev := newKey("dev")
	_, prod := newKey("prod")
	res, _ = tb.keyAPI(t, prod, http.MethodPost, "/api/v1/bulk-actions", map[string]any{"action": "retry", "group": group})
	require.Equal(t, http.StatusNotFound, res.StatusCode, res.body)
	res, _ = tb.keyAPI(t, prod, http.MethodPost, "/api/v1/bulk-actions", map[string]any{"action": "retry", "exceptionIds": []int64{a.ID}})
	require.Equal(t, http.StatusNotFound, res.StatusCode, res.body)
	res, _ = tb.keyAPI(t, tb.devKey, http.MethodPost, "/api/v1/bulk-actions", map[string]any{"action": "retry", "group": group})
	require.Equal(t, http.StatusForbidden, res.StatusCode, res.body)
	require.Zero(t, bulkCount(), "no refusal started anything")

	// A dev support key retries one exception; it reads its own action,
	// the prod key does not.
	res, out := tb.keyAPI(t, dev, http.MethodPost, "/api/v1/bulk-actions", map[string]any{"action": "retry", "exceptionIds": []int64{a.ID}})
	require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
	keyAction := res.Header.Get("Location")
	require.Equal(t, fmt.Sprintf("/api/v1/bulk-actions/%v", out["id"]), keyAction)
	done := waitBulkDone(t, func() (response, map[string]any) { return tb.keyAPI(t, dev, http.MethodGet, keyAction, nil) })
	require.EqualValues(t, 1, done["total"])
	require.EqualValues(t, 1, done["done"].(float64)+done["skipped"].(float64)+done["failed"].(float64))
	res, _ = tb.keyAPI(t, prod, http.MethodGet, keyAction, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode, res.body)
	entries, err := account.AuditList(ctx, tb.db, account.AuditFilter{Action: "exception.bulk_retry"})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "apikey "+devKey.Prefix, entries[0].ActorEmail)

	// A person resolves the whole group; the same Idempotency-Key again
	// finds the first action instead of starting another.
	body := map[string]any{"action": "resolve", "group": group, "reason": "ERP test data"}
	first, out := sam.api(http.MethodPost, "/api/v1/bulk-actions", body, "Idempotency-Key", "resolve-test-data")
	require.Equal(t, http.StatusAccepted, first.StatusCode, first.body)
	require.EqualValues(t, group, out["groupId"])
	require.Empty(t, first.Header.Get("Idempotent-Replayed"))
	again, _ := sam.api(http.MethodPost, "/api/v1/bulk-actions", body, "Idempotency-Key", "resolve-test-data")
	require.Equal(t, http.StatusOK, again.StatusCode, again.body)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))
	done = waitBulkDone(t, func() (response, map[string]any) {
		return vic.api(http.MethodGet, first.Header.Get("Location"), nil)
	})
	require.Equal(t, "done", done["status"])
	require.Equal(t, "sam@shop.example", done["requestedBy"])
	left, _, err := inbox.List(ctx, tb.db, inbox.Filter{})
	require.NoError(t, err)
	require.Empty(t, left, "the group is resolved")
	require.Equal(t, 2, bulkCount(), "the repeated request started nothing")

	// A key reads actions on groups in its scope, whoever started them.
	res, _ = tb.keyAPI(t, dev, http.MethodGet, first.Header.Get("Location"), nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	res, _ = tb.keyAPI(t, prod, http.MethodGet, first.Header.Get("Location"), nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode, res.body)
	res, _ = sam.api(http.MethodGet, "/api/v1/bulk-actions/999999", nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode, res.body)
}

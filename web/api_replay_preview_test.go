package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/mappings/release"
)

// TestReplayPreviewAPI: POST /api/v1/exceptions/{id}/replay/preview says
// what a replay would send, route by route, without writing, publishing
// or sending anything; for the draft it names the revision a replay must
// send and says why this caller may not, when it may not.
func TestReplayPreviewAPI(t *testing.T) {
	t.Parallel()
	tb, items := setupInbox(t)
	ctx := context.Background()
	tb.user(t, "vic@shop.example", account.RoleViewer)
	tb.user(t, "sam@shop.example", account.RoleSupport)
	tb.user(t, "ada@shop.example", account.RoleAdmin)
	vic, sam, ada := tb.browser(t), tb.browser(t), tb.browser(t)
	vic.signIn("vic@shop.example")
	sam.signIn("sam@shop.example")
	ada.signIn("ada@shop.example")
	for _, br := range []*browser{vic, sam, ada} {
		br.get("/inbox") // for the session's CSRF token
	}
	a := items[0]
	preview := fmt.Sprintf("/api/v1/exceptions/%d/replay/preview", a.ID)
	counts := func() (n int) {
		require.NoError(t, tb.db.QueryRow(ctx, `select (select count(*) from messages) + (select count(*) from flow_versions)
			+ (select count(*) from audit_entries)
			+ (select count(*) from river_job where kind in ('process', 'deliver', 'deliver_group', 'inbox_bulk'))`).Scan(&n))
		return n
	}
	before := counts()

	// The version that ran still fails the same way: the problem is named.
	res, out := vic.api(http.MethodPost, preview, map[string]any{})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Equal(t, "v1", out["versionChosen"])
	require.EqualValues(t, 1, out["versionRan"])
	require.Contains(t, fmt.Sprint(out["problems"]), "ERP_COMPANY", "everyone who reads the inbox may preview")

	// With the variable set, the routes map; an edited payload shows its diff.
	dev, err := release.EnvironmentByName(ctx, tb.db, "dev")
	require.NoError(t, err)
	require.NoError(t, release.VariableSet(ctx, tb.db, dev.ID, "ERP_COMPANY", "1000"))
	edited := regexp.MustCompile(`"currency":\s*"eur"`).ReplaceAllString(tb.sample, `"currency": "chf"`)
	require.NotEqual(t, tb.sample, edited, "the sample has a currency to edit")
	res, out = sam.api(http.MethodPost, preview, map[string]any{"version": "deployed", "payload": edited})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Empty(t, out["problems"])
	require.Contains(t, out["payloadDiff"], `+   "currency": "chf"`)
	routes, _ := out["routes"].([]any)
	require.NotEmpty(t, routes)
	route := routes[0].(map[string]any)
	require.Equal(t, true, route["changed"], "the version that ran could not map it")
	require.Contains(t, route["after"], "1000")
	require.Contains(t, route["after"], "CHF")

	// Bad requests say what to fix.
	res, _ = sam.api(http.MethodPost, preview, map[string]any{"payload": `{"id": 1,`})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.body)
	res, _ = sam.api(http.MethodPost, preview, map[string]any{"version": "v7"})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.body)
	require.Contains(t, res.body, "not one of ran, deployed, draft")
	res, _ = sam.api(http.MethodPost, "/api/v1/exceptions/999999/replay/preview", map[string]any{})
	require.Equal(t, http.StatusNotFound, res.StatusCode, res.body)

	// The draft: its revision, and who may send it.
	_, d := changeTheDraft(t, tb)
	res, out = sam.api(http.MethodPost, preview, map[string]any{"version": "draft"})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	draft := out["draft"].(map[string]any)
	require.EqualValues(t, d.Revision, draft["revision"])
	require.EqualValues(t, 2, draft["publishes"])
	require.Contains(t, out["draftRefusal"], "publishing is for analysts and admins")
	res, out = ada.api(http.MethodPost, preview, map[string]any{"version": "draft"})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Empty(t, out["draftRefusal"], "an admin may send it")
	require.Equal(t, before, counts(), "previews write, publish and queue nothing")

	// What the preview named is what the replay sends.
	res, out = ada.api(http.MethodPost, fmt.Sprintf("/api/v1/exceptions/%d/replay", a.ID),
		map[string]any{"version": "draft", "draftRevision": out["draft"].(map[string]any)["revision"], "reason": "after the fix"})
	require.Equal(t, http.StatusCreated, res.StatusCode, res.body)
	require.NotEmpty(t, out["messageId"])

	// API keys: the support permission reads previews in its own
	// environment only.
	_, devSupport, err := account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "bot", Environment: "dev", CanSupport: true}, account.SystemActor)
	require.NoError(t, err)
	_, prodSupport, err := account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "bot", Environment: "prod", CanSupport: true}, account.SystemActor)
	require.NoError(t, err)
	b := fmt.Sprintf("/api/v1/exceptions/%d/replay/preview", items[1].ID)
	res, _ = tb.keyAPI(t, devSupport, http.MethodPost, b, map[string]any{})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	res, _ = tb.keyAPI(t, prodSupport, http.MethodPost, b, map[string]any{})
	require.Equal(t, http.StatusNotFound, res.StatusCode, "another environment's exception")
	res, _ = tb.keyAPI(t, tb.devKey, http.MethodPost, b, map[string]any{})
	require.Equal(t, http.StatusForbidden, res.StatusCode, "a trigger key has no inbox")
}

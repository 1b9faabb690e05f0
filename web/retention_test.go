package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

func TestAdminSetsRetentionPerEnvironment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.user(t, "admin@shop.example", account.RoleAdmin)
	br := b.browser(t)
	br.signIn("admin@shop.example")

	res := br.get("/environments")
	require.Contains(t, res.body, `href="/environments/prod/retention"`)
	res = br.get("/environments/prod/retention")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, `value="30"`)

	for _, bad := range []string{"0", "3651", "soon", ""} {
		res = br.post("/environments/prod/retention", url.Values{"days": {bad}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, bad)
		require.Contains(t, res.body, "from 1 to 3650")
		require.Contains(t, res.body, "Nothing was saved.")
	}
	res = br.post("/environments/prod/retention", url.Values{"days": {"90"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	var prod, dev int
	require.NoError(t, b.db.QueryRow(ctx, `select retention_days from environments where name = 'prod'`).Scan(&prod))
	require.NoError(t, b.db.QueryRow(ctx, `select retention_days from environments where name = 'dev'`).Scan(&dev))
	require.Equal(t, []int{90, 30}, []int{prod, dev})
	var before, after string
	require.NoError(t, b.db.QueryRow(ctx, `select before::text, after::text from audit_entries where action = 'environment.retention'`).Scan(&before, &after))
	require.JSONEq(t, `{"retentionDays": 30}`, before)
	require.JSONEq(t, `{"retentionDays": 90}`, after)

	require.Equal(t, http.StatusNotFound, br.get("/environments/nowhere/retention").StatusCode)
	require.Equal(t, http.StatusNotFound, br.post("/environments/nowhere/retention", url.Values{"days": {"5"}}).StatusCode)

	// Only admins.
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	analyst := b.browser(t)
	analyst.signIn("ana@shop.example")
	require.Equal(t, http.StatusForbidden, analyst.get("/environments/prod/retention").StatusCode)
	require.Equal(t, http.StatusForbidden, analyst.post("/environments/prod/retention", url.Values{"days": {"1"}}).StatusCode)
	require.NotContains(t, analyst.get("/environments").body, "/retention")
}

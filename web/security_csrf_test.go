package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

// dbSnapshot fingerprints every table a request could change: a count and
// an md5 of its rows. Sessions, sign-in attempts, River's own tables and
// the per-minute rollups are left out: they change on every request or by
// themselves (periodic jobs).
func dbSnapshot(t *testing.T, f *secFixture) map[string]string {
	ctx := context.Background()
	rows, err := f.db.Query(ctx, `select table_name from information_schema.tables
		where table_schema = current_schema() and table_type = 'BASE TABLE'
		  and table_name not like 'river%' and table_name not like '%minute_stats' and table_name not in ('sessions', 'login_attempts', 'schema_migrations')`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, tables)
	out := map[string]string{}
	for _, tbl := range tables {
		var sum string
		require.NoError(t, f.db.QueryRow(ctx, `select count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' order by x::text)), '') from `+tbl+` x`).Scan(&sum))
		out[tbl] = sum
	}
	return out
}

// TestEveryStateChangingRouteRefusesForgedRequests sends every
// state-changing browser route (and every session-authenticated API
// change) as a signed-in admin — admitted everywhere — without the CSRF
// token, with a wrong one, and with the right one from another site's
// page. Each must be 403, and the database must be as it was.
func TestEveryStateChangingRouteRefusesForgedRequests(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	f.user(t, "root@shop.example", account.RoleAdmin)
	admin := f.browser(t)
	admin.signIn("root@shop.example")
	admin.get("/flows")
	token := admin.csrf
	require.NotEmpty(t, token)
	table := routeTable()

	before := dbSnapshot(t, f)
	routes, checks := 0, 0
	for _, rt := range registeredRoutes(t, f) {
		if rt.method == http.MethodGet || table[rt.String()].keys == keysTrigger {
			continue // reads; triggers take a key and no session
		}
		routes++
		path := f.path(rt.pattern)
		for _, forged := range []struct{ name, token, origin string }{
			{"no token", "", ""},
			{"wrong token", "forged-" + token[:8], ""},
			{"right token from another site", token, "https://evil.example"},
		} {
			body, ctype := "_csrf="+forged.token, "application/x-www-form-urlencoded"
			if strings.HasPrefix(path, "/api/") {
				body, ctype = "{}", "application/json"
			}
			req := httptest.NewRequest(rt.method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", ctype)
			if strings.HasPrefix(path, "/api/") && forged.token != "" {
				req.Header.Set("X-CSRF-Token", forged.token)
			}
			if forged.origin != "" {
				req.Header.Set("Origin", forged.origin)
			}
			res := admin.do(req)
			checks++
			require.Equal(t, http.StatusForbidden, res.StatusCode, "%s with %s: %s", rt, forged.name, bodyGist(res.body))
			require.Contains(t, res.body, "sent from another site", "%s with %s", rt, forged.name)
		}
	}
	after := dbSnapshot(t, f)
	for tbl, sum := range before {
		require.Equal(t, sum, after[tbl], "a refused request changed table %s", tbl)
	}
	// The admin is still signed in (sign-out was refused too).
	require.Equal(t, http.StatusOK, admin.get("/flows").StatusCode)
	t.Logf("csrf: %d state-changing routes × 3 forgeries = %d refusals, database unchanged", routes, checks)
}

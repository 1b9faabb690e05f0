package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/mappings"
)

// Hostile text a payload or an expression may carry.
const (
	scriptTag = `<script>alert(1)</script>`
	imgAttr   = `"><img src=x onerror=alert(2)>`
)

// requireEscaped checks that a page shows hostile text only escaped: the raw
// markup is absent, and the text itself is there, as HTML entities or as
// JSON's \u003c escapes.
func requireEscaped(t *testing.T, where, body string) {
	t.Helper()
	require.NotContains(t, body, scriptTag, "%s: raw <script> from data", where)
	require.NotContains(t, body, `<img src=x onerror`, "%s: raw <img onerror> from data", where)
	shown := strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(body, `\u003cscript\u003ealert(1)\u003c/script\u003e`)
	require.True(t, shown, "%s does not show the hostile text at all (so escaping is not being tested)", where)
}

// TestHostileTextIsShownEscaped puts <script> and attribute-breaking text in
// an order (its name becomes the correlation id) and in the designer's
// expressions and description, then reads the inbox, the exception, the
// message, the explorer and the designer.
func TestHostileTextIsShownEscaped(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ctx := context.Background()
	f.user(t, "sam@shop.example", account.RoleSupport)
	br := f.browser(t)
	br.signIn("sam@shop.example")

	hostile := strings.Replace(f.sample, `"#1001"`, `"`+scriptTag+`\"><img src=x onerror=alert(2)>"`, 1)
	require.NotEqual(t, f.sample, hostile)
	res, _ := f.post(t, devPath, f.devKey, "application/json", hostile, "Idempotency-Key", "hostile-2")
	require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
	var ex inbox.Item
	deadline := time.Now().Add(20 * time.Second)
	for ex.ID == 0 {
		items, _, err := inbox.List(ctx, f.db, inbox.Filter{Text: "hostile-2"})
		require.NoError(t, err)
		if len(items) > 0 {
			ex = items[0]
		}
		require.True(t, time.Now().Before(deadline), "no exception for the hostile order")
		time.Sleep(50 * time.Millisecond)
	}
	msg := ex.MessageID.String()
	for _, p := range []string{"/inbox/" + itoa(ex.ID), "/messages/" + msg, "/messages?key=hostile-2", "/messages?correlation=" + url.QueryEscape(scriptTag+imgAttr)} {
		res := br.get(p)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
		requireEscaped(t, p, res.body)
	}

	// The designer: an expression and a description carrying the same.
	flow, err := mappings.FlowBySlug(ctx, f.db, "shop-orders")
	require.NoError(t, err)
	d, err := mappings.DraftGet(ctx, f.db, flow.ID)
	require.NoError(t, err)
	def := *d.Definition
	def.Description = scriptTag + imgAttr
	def.Routes[0].Mapping[0].Value = nil // a row has an expression or a value
	def.Routes[0].Mapping[0].Expr = `"` + strings.ReplaceAll(scriptTag+imgAttr, `"`, `\"`) + `"`
	_, err = mappings.DraftSave(ctx, f.db, flow.ID, d.Revision, &def, mappings.Editor{Email: "ana@shop.example"})
	require.NoError(t, err)
	for _, p := range []string{"/flows/shop-orders", "/api/v1/flows/shop-orders/draft"} {
		res := br.get(p)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
		requireEscaped(t, p, res.body)
	}
	// The designer's live preview runs the expression: its output value
	// is the hostile text.
	br.get("/flows/shop-orders")
	res = br.post("/flows/shop-orders/preview", url.Values{"revision": {itoa(int64(d.Revision + 1))}, "sample": {"0"}})
	require.Equal(t, http.StatusOK, res.StatusCode, bodyGist(res.body))
	requireEscaped(t, "the designer preview", res.body)
}

// TestSQLInFiltersIsHarmless sends SQL and LIKE metacharacters through every
// filter of the inbox, the explorer, the audit log, the flows list and the
// dashboard: each answers 200 or a clear 4xx, never 5xx; the tables are
// intact; and % and _ match themselves, not everything.
func TestSQLInFiltersIsHarmless(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ctx := context.Background()
	f.user(t, "root@shop.example", account.RoleAdmin)
	br := f.browser(t)
	br.signIn("root@shop.example")

	count := func(table string) int {
		var n int
		require.NoError(t, f.db.QueryRow(ctx, `select count(*) from `+table).Scan(&n))
		return n
	}
	tables := []string{"messages", "exceptions", "audit_entries", "flows", "users"}
	before := map[string]int{}
	for _, tbl := range tables {
		before[tbl] = count(tbl)
	}

	values := []string{`' OR 1=1 --`, `%`, `_`, `\`, `; DROP TABLE messages; --`, `'); DELETE FROM exceptions; --`, `%' OR '1'='1`, "\x00"}
	pages := map[string][]string{
		"/inbox":             {"q", "kind", "env", "flow", "status", "assignee", "target", "age", "before", "view"},
		"/api/v1/exceptions": {"q", "fingerprint", "before"}, // the rest are the inbox's, parsed by the same code
		"/api/v1/messages":   {"value", "after"},             // likewise the explorer's
		"/messages":          {"id", "key", "correlation", "value", "env", "flow", "status", "from", "to", "after", "limit"},
		"/admin/audit":       {"action", "actor", "target", "before"},
		"/flows":             {"q", "system"},
		"/dashboard":         {"env", "range"},
	}
	checks := 0
	for page, params := range pages {
		for _, p := range params {
			for _, v := range values {
				path := page + "?" + url.Values{p: {v}}.Encode()
				res := br.get(path)
				checks++
				require.Less(t, res.StatusCode, 500, "%s: %s", path, bodyGist(res.body))
				require.Contains(t, []int{200, 400, 404, 422}, res.StatusCode, "%s: %s", path, bodyGist(res.body))
			}
		}
	}
	// A NUL byte cannot go into a PostgreSQL text value: a 400 that says
	// so, not a 500.
	res := br.get("/inbox?env=%00")
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Contains(t, res.body, "NUL byte")
	for _, tbl := range tables {
		require.Equal(t, before[tbl], count(tbl), "table %s changed", tbl)
	}

	// LIKE wildcards are literal: nothing contains a % or an _.
	items, _, err := inbox.List(ctx, f.db, inbox.Filter{Text: "%"})
	require.NoError(t, err)
	require.Empty(t, items, "inbox text % matched everything")
	all, _, err := inbox.List(ctx, f.db, inbox.Filter{})
	require.NoError(t, err)
	require.NotEmpty(t, all)
	for _, af := range []account.AuditFilter{{Action: "%"}, {Action: "_"}, {Actor: "%"}, {Actor: "_"}} {
		entries, err := account.AuditList(ctx, f.db, af)
		require.NoError(t, err)
		require.Empty(t, entries, "audit filter %+v matched", af)
	}
	flows, err := mappings.FlowList(ctx, f.db, mappings.FlowFilter{Search: "%"})
	require.NoError(t, err)
	require.Empty(t, flows, "flow search % matched")
	flows, err = mappings.FlowList(ctx, f.db, mappings.FlowFilter{Search: "shop_orders"})
	require.NoError(t, err)
	require.Empty(t, flows, "flow search _ matched the dash of shop-orders")
	t.Logf("sql: %d filter requests, none 5xx, tables intact", checks)
}

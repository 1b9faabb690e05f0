package web_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/web"
)

// acceptOrder posts the storefront sample with another order name (the
// flow's correlation id) and returns the message id.
func (tb *triggerBundle) acceptOrder(t *testing.T, name string) string {
	t.Helper()
	var order map[string]any
	require.NoError(t, json.Unmarshal([]byte(tb.sample), &order))
	order["name"] = name
	body, err := json.Marshal(order)
	require.NoError(t, err)
	res, _ := tb.post(t, devPath, tb.devKey, "application/json", string(body), "Idempotency-Key", "key-"+name)
	require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.body), &out))
	return out["id"].(string)
}

var olderLink = regexp.MustCompile(`href="(/messages\?[^"]*after=[^"]*)"`)

func TestMessageExplorerPage(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	first := tb.acceptOrder(t, "#1001")
	second := tb.acceptOrder(t, "#1002")
	evil := tb.acceptOrder(t, "<script>alert(1)</script>")

	require.Equal(t, http.StatusSeeOther, tb.browser(t).get("/messages").StatusCode, "signed-in users only")
	tb.user(t, "vic@shop.example", account.RoleViewer)
	br := tb.browser(t)
	br.signIn("vic@shop.example")

	page := br.get("/messages")
	require.Equal(t, http.StatusOK, page.StatusCode, page.body)
	for _, id := range []string{first, second, evil} {
		require.Contains(t, page.body, `href="/messages/`+id+`"`)
	}
	require.Less(t, strings.Index(page.body, evil), strings.Index(page.body, first), "newest first")
	require.NotContains(t, page.body, "<script>alert(1)</script>", "payload values are escaped")
	require.Contains(t, page.body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.NotContains(t, page.body, "Not built yet")

	// Each filter, kept in the form.
	page = br.get("/messages?value=" + url.QueryEscape("#1001"))
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, page.body, first)
	require.NotContains(t, page.body, second)
	require.Contains(t, page.body, `value="#1001"`)
	page = br.get("/messages?correlation=" + url.QueryEscape("#1002") + "&env=dev&flow=shop-orders&status=received")
	require.Contains(t, page.body, second)
	require.NotContains(t, page.body, first)
	require.Contains(t, page.body, `<option value="shop-orders" selected>`)
	page = br.get("/messages?key=key-%231001")
	require.Contains(t, page.body, first)
	require.NotContains(t, page.body, second)
	page = br.get("/messages?id=" + second)
	require.Contains(t, page.body, second)
	require.NotContains(t, page.body, first)
	page = br.get("/messages?env=prod")
	require.Contains(t, page.body, "No messages")
	page = br.get("/messages?value=" + url.QueryEscape("<script>alert(1)</script>"))
	require.Contains(t, page.body, evil)
	require.NotContains(t, page.body, "<script>alert(1)</script>")
	page = br.get("/messages?from=2000-01-01T00:00&to=2000-01-02T00:00")
	require.Contains(t, page.body, "No messages")

	// SQL in filters is only ever a value.
	for _, q := range []string{"correlation", "key", "value"} {
		page = br.get("/messages?" + q + "=" + url.QueryEscape(`' or 1=1; drop table messages; --`))
		require.Equal(t, http.StatusOK, page.StatusCode)
		require.Contains(t, page.body, "No messages")
	}
	require.Contains(t, br.get("/messages").body, first, "still there")

	// Filters that cannot be used: the form stays, with what to fix.
	for q, want := range map[string]string{
		"status=" + url.QueryEscape("failed' or '1'='1"): "no message status",
		"from=yesterday": "is not a time",
		"id=42":          "is not a message id",
		"env=nowhere":    "no environment",
		"flow=nowhere":   "no flow",
		"after=garbage":  "page cursor",
		"limit=100000":   "limit must be",
	} {
		page = br.get("/messages?" + q)
		require.Equal(t, http.StatusUnprocessableEntity, page.StatusCode, q)
		require.Contains(t, page.body, html.EscapeString(want), q)
		require.Contains(t, page.body, `id="message-filters"`, q)
	}

	// Keyset pages keep the filters.
	page = br.get("/messages?env=dev&limit=2")
	require.Contains(t, page.body, evil)
	require.Contains(t, page.body, second)
	require.NotContains(t, page.body, first)
	m := olderLink.FindStringSubmatch(page.body)
	require.NotNil(t, m, "an Older link")
	next := html.UnescapeString(m[1])
	require.Contains(t, next, "env=dev")
	require.Contains(t, next, "limit=2")
	page = br.get(next)
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, page.body, first)
	require.NotContains(t, page.body, second)
	require.Nil(t, olderLink.FindStringSubmatch(page.body), "the last page")
	require.Contains(t, page.body, `href="/messages?env=dev&amp;limit=2"`, "back to the newest")
}

func TestMessageExplorerAPI(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	first := tb.acceptOrder(t, "#1001")
	second := tb.acceptOrder(t, "#1002")
	third := tb.acceptOrder(t, "#1003")

	get := func(path, key string) (response, web.MessageListJSON) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res := tb.browser(t).do(req)
		var out web.MessageListJSON
		if res.StatusCode == http.StatusOK {
			require.NoError(t, json.Unmarshal([]byte(res.body), &out), res.body)
		} else {
			require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), res.body)
		}
		return res, out
	}
	ids := func(l web.MessageListJSON) []string {
		var out []string
		for _, m := range l.Messages {
			out = append(out, m.ID.String())
		}
		return out
	}

	res, _ := get("/api/v1/messages", "")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)

	res, l := get("/api/v1/messages?limit=2", tb.devKey)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, []string{third, second}, ids(l))
	require.NotEmpty(t, l.Next)
	require.Equal(t, "#1003", l.Messages[0].CorrelationID)
	require.Equal(t, "shop-orders", l.Messages[0].FlowSlug)
	_, l = get(l.NextURL, tb.devKey)
	require.Equal(t, []string{first}, ids(l))
	require.Empty(t, l.Next)

	_, l = get("/api/v1/messages?value="+url.QueryEscape("#1002"), tb.devKey)
	require.Equal(t, []string{second}, ids(l))
	_, l = get("/api/v1/messages?correlation="+url.QueryEscape("' or ''='"), tb.devKey)
	require.Empty(t, l.Messages)
	require.NotNil(t, l.Messages, "an empty list, not null")

	// A key reads its own environment and flows only.
	_, l = get("/api/v1/messages", tb.prodKey)
	require.Empty(t, l.Messages)
	res, _ = get("/api/v1/messages?env=dev", tb.prodKey)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	_, l = get("/api/v1/messages", tb.otherFlowKey)
	require.Empty(t, l.Messages, "limited to a flow without messages")
	res, _ = get("/api/v1/messages?flow=shop-orders", tb.otherFlowKey)
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	res, _ = get("/api/v1/messages?status=nope", tb.devKey)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)

	// A browser session works too.
	tb.user(t, "sue@shop.example", account.RoleSupport)
	br := tb.browser(t)
	br.signIn("sue@shop.example")
	res, out := br.api(http.MethodGet, "/api/v1/messages?env=dev&key="+url.QueryEscape("key-#1001"), nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Len(t, out["messages"], 1)
}

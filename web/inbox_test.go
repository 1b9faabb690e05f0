package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/jobs/inbox"
)

// setupInbox is a trigger bundle whose workers run, with two orders that
// failed to map because the variable ERP_COMPANY is not set in dev: two
// mapping exceptions in one group.
func setupInbox(t *testing.T, opts ...setupOpts) (*triggerBundle, []inbox.Item) {
	t.Helper()
	tb := setupTrigger(t, opts...)
	ctx := context.Background()
	require.NoError(t, tb.queue.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tb.queue.Stop(ctx)
	})
	for _, key := range []string{"order-a", "order-b"} {
		res, _ := tb.post(t, devPath, tb.devKey, "application/json", tb.sample, "Idempotency-Key", key)
		require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		items, _, err := inbox.List(ctx, tb.db, inbox.Filter{})
		require.NoError(t, err)
		if len(items) >= 2 {
			return tb, items
		}
		require.True(t, time.Now().Before(deadline), "no exceptions filed: %+v", items)
		time.Sleep(50 * time.Millisecond)
	}
}

func TestInboxReadsForEveryRoleActsForSupport(t *testing.T) {
	t.Parallel()
	tb, items := setupInbox(t)
	for _, u := range []struct {
		email string
		role  account.Role
	}{{"vic@shop.example", account.RoleViewer}, {"ana@shop.example", account.RoleAnalyst}, {"sam@shop.example", account.RoleSupport}} {
		tb.user(t, u.email, u.role)
	}
	ex := items[0]
	id := fmt.Sprint(ex.ID)

	viewer := tb.browser(t)
	viewer.signIn("vic@shop.example")
	res := viewer.get("/inbox")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, `id="groups"`)
	require.Contains(t, res.body, `id="inbox-open-count"`, "open count in the navigation")
	require.Contains(t, res.body, "ERP_COMPANY")
	res = viewer.get("/inbox?view=list&kind=mapping&env=dev")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, `data-exception="`+id+`"`)
	require.NotContains(t, res.body, `name="ids"`, "a viewer gets no selection boxes")
	res = viewer.get("/inbox/" + id)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, `id="timeline"`)
	require.Contains(t, res.body, `class="caret"`, "the failing expression with a caret")
	require.Contains(t, res.body, "env(&#34;ERP_COMPANY&#34;)\n^")
	require.NotContains(t, res.body, `id="exception-actions"`)
	for _, path := range []string{"/inbox/" + id + "/retry", "/inbox/" + id + "/close", "/inbox/" + id + "/assign", "/inbox/" + id + "/replay", "/inbox/" + id + "/comments", "/inbox/bulk"} {
		res := viewer.post(path, url.Values{"reason": {"x"}, "status": {"resolved"}})
		require.Equal(t, http.StatusForbidden, res.StatusCode, path)
	}
	res, _ = viewer.api(http.MethodPost, "/api/v1/exceptions/"+id+"/resolve", map[string]any{"reason": "x"})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res = viewer.get("/inbox?status=nonsense&view=list")
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)

	analyst := tb.browser(t)
	analyst.signIn("ana@shop.example")
	res = analyst.post("/inbox/"+id+"/retry", nil)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "analysts read the inbox, support acts")

	sam := tb.browser(t)
	sam.signIn("sam@shop.example")
	res = sam.get("/inbox/" + id)
	require.Contains(t, res.body, `id="exception-actions"`)
	res = sam.post("/inbox/"+id+"/close", url.Values{"status": {"resolved"}, "reason": {"  "}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "resolving needs a reason")
	res = sam.post("/inbox/"+id+"/comments", url.Values{"body": {"looking at the ERP settings"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	res = sam.post("/inbox/"+id+"/assign", url.Values{"assignee": {"0"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)

	// The JSON API: list, get, refusals, actions.
	res, out := sam.api(http.MethodGet, "/api/v1/exceptions?kind=mapping", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Len(t, out["items"], 2)
	res, out = sam.api(http.MethodGet, "/api/v1/exception-groups", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Len(t, out["items"], 1)
	res, _ = sam.api(http.MethodGet, fmt.Sprintf("/api/v1/exception-groups/%d", ex.GroupID), nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, out = sam.api(http.MethodGet, "/api/v1/exceptions/"+id, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Len(t, out["history"], 2, "the comment and the assignment")
	res, _ = sam.api(http.MethodPost, "/api/v1/exceptions/"+id+"/replay", map[string]any{"payload": `{"id": 1,`})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "replaying invalid JSON")
	res, _ = sam.api(http.MethodPost, "/api/v1/exceptions/"+id+"/ignore", map[string]any{})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "ignoring without a reason")
	res, out = sam.api(http.MethodPost, "/api/v1/exceptions/"+id+"/resolve", map[string]any{"reason": "test order"})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Equal(t, "resolved", out["status"])
	res, _ = sam.api(http.MethodPost, "/api/v1/exceptions/"+id+"/retry", nil)
	require.Equal(t, http.StatusConflict, res.StatusCode, "acting on a resolved exception")
	res = sam.post("/inbox/"+id+"/close", url.Values{"status": {"ignored"}, "reason": {"again"}})
	require.Equal(t, http.StatusConflict, res.StatusCode)

	// Audited with before and after.
	entries, err := account.AuditList(context.Background(), tb.db, account.AuditFilter{Action: "exception.resolve"})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Contains(t, string(entries[0].Before), `"open"`)
	require.Contains(t, string(entries[0].After), `"resolved"`)
	require.Equal(t, "sam@shop.example", entries[0].ActorEmail)
}

func TestInboxBulkActionIsSafeToClickTwice(t *testing.T) {
	t.Parallel()
	tb, items := setupInbox(t)
	tb.user(t, "sam@shop.example", account.RoleSupport)
	sam := tb.browser(t)
	sam.signIn("sam@shop.example")
	res := sam.get(fmt.Sprintf("/inbox?group=%d", items[0].GroupID))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, `id="group-head"`)
	require.Contains(t, res.body, `id="retry-group"`)

	form := url.Values{"group": {fmt.Sprint(items[0].GroupID)}, "action": {"resolve"}, "reason": {"ERP test data"}, "request_key": {"k-1"}}
	first := sam.post("/inbox/bulk", form)
	require.Equal(t, http.StatusSeeOther, first.StatusCode, first.body)
	second := sam.post("/inbox/bulk", form)
	require.Equal(t, first.Header.Get("Location"), second.Header.Get("Location"), "a second click finds the first action")

	deadline := time.Now().Add(20 * time.Second)
	for {
		res := sam.get(first.Header.Get("Location"))
		require.Equal(t, http.StatusOK, res.StatusCode)
		if regexpDone.MatchString(res.body) {
			require.Contains(t, res.body, `<span id="bulk-done">2</span>`)
			break
		}
		require.True(t, time.Now().Before(deadline), "bulk action did not finish:\n%s", res.body)
		time.Sleep(50 * time.Millisecond)
	}
	left, _, err := inbox.List(context.Background(), tb.db, inbox.Filter{})
	require.NoError(t, err)
	require.Empty(t, left)
	res = sam.post("/inbox/bulk", url.Values{"action": {"retry"}, "request_key": {"k-2"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "nothing selected")
}

var regexpDone = regexp.MustCompile(`data-status="done"`)

// The bulk form from the page (htmx): a refusal answers the form's error
// slot, not a whole page, so the selection stays; a start sends the browser
// to the progress page; "all matching" takes every exception the list's
// filters match, not only the ticked ones.
func TestInboxBulkFromThePage(t *testing.T) {
	t.Parallel()
	tb, items := setupInbox(t)
	tb.user(t, "sam@shop.example", account.RoleSupport)
	sam := tb.browser(t)
	sam.signIn("sam@shop.example")
	res := sam.get("/inbox?view=list&kind=" + string(items[0].Kind))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, `id="all-matching"`)
	require.Contains(t, res.body, `name="f_kind" value="`+string(items[0].Kind)+`"`, "the bulk form carries the list's filters")

	t.Run("a refusal answers the error slot", func(t *testing.T) {
		res := sam.htmxPost("/inbox/bulk", url.Values{"action": {"resolve"}, "ids": {fmt.Sprint(items[0].ID)}, "request_key": {"hx-1"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, `id="bulk-refusal"`)
		require.Contains(t, res.body, "a reason is required")
		require.NotContains(t, res.body, "<html", "a fragment, not a page")
	})
	t.Run("nothing selected is refused the same way", func(t *testing.T) {
		res := sam.htmxPost("/inbox/bulk", url.Values{"action": {"retry"}, "request_key": {"hx-2"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "Select at least one exception, or all matching the filters.")
	})
	t.Run("all matching resolves every exception the filters match", func(t *testing.T) {
		res := sam.htmxPost("/inbox/bulk", url.Values{"action": {"resolve"}, "reason": {"test data"}, "all_matching": {"on"},
			"f_kind": {string(items[0].Kind)}, "f_status": {"active"}, "request_key": {"hx-3"}})
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		loc := res.Header.Get("HX-Redirect")
		require.Regexp(t, `^/inbox/bulk/\d+$`, loc)
		deadline := time.Now().Add(20 * time.Second)
		for {
			res := sam.get(loc)
			if regexpDone.MatchString(res.body) {
				require.Contains(t, res.body, fmt.Sprintf(`<span id="bulk-done">%d</span>`, len(items)))
				require.Contains(t, res.body, "Resolved "+fmt.Sprint(len(items))+" exceptions")
				require.Contains(t, res.body, `id="bulk-result"`)
				break
			}
			require.True(t, time.Now().Before(deadline), "bulk action did not finish:\n%s", res.body)
			time.Sleep(50 * time.Millisecond)
		}
		left, _, err := inbox.List(context.Background(), tb.db, inbox.Filter{})
		require.NoError(t, err)
		require.Empty(t, left)
	})
	t.Run("all matching with nothing left is refused", func(t *testing.T) {
		res := sam.htmxPost("/inbox/bulk", url.Values{"action": {"retry"}, "all_matching": {"on"}, "f_kind": {string(items[0].Kind)}, "request_key": {"hx-4"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "No exception matches these filters")
	})
}

// The exception page leads with what can fix it: edit and replay for a
// data error (a retry of the same data fails the same way), retry for a
// delivery error.
func TestExceptionPagePrimaryActionFollowsTheKind(t *testing.T) {
	t.Parallel()
	tb, items := setupInbox(t)
	tb.user(t, "sam@shop.example", account.RoleSupport)
	sam := tb.browser(t)
	sam.signIn("sam@shop.example")
	id := fmt.Sprint(items[0].ID)
	t.Run("a mapping error leads with edit and replay", func(t *testing.T) {
		res := sam.get("/inbox/" + id)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Regexp(t, `class="btn btn-primary" href="#payload-editor" id="edit-replay"`, res.body)
		require.Regexp(t, `class="btn" id="retry"`, res.body)
		require.Contains(t, res.body, `id="act-advice"`)
	})
	t.Run("a delivery error leads with retry", func(t *testing.T) {
		_, err := tb.db.Exec(context.Background(), `update exceptions set kind = 'delivery' where id = $1`, items[0].ID)
		require.NoError(t, err)
		res := sam.get("/inbox/" + id)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Regexp(t, `class="btn btn-primary" id="retry"`, res.body)
		require.NotContains(t, res.body, `id="edit-replay"`)
	})
}

// The flat list filters on exceptions blocking later messages of their
// sequence key, and keeps the filter in its links and its bulk form.
func TestInboxBlockingFilterOnThePage(t *testing.T) {
	t.Parallel()
	tb, _ := setupInbox(t)
	tb.user(t, "sam@shop.example", account.RoleSupport)
	sam := tb.browser(t)
	sam.signIn("sam@shop.example")
	res := sam.get("/inbox?view=list")
	require.Contains(t, res.body, `id="f-blocking"`)
	require.Contains(t, res.body, "exception-row", "the unfiltered list shows the exceptions")
	res = sam.get("/inbox?view=list&blocking=true")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Regexp(t, `id="f-blocking" name="blocking" value="true" checked`, res.body)
	require.NotContains(t, res.body, "exception-row", "no message of this flow has a sequence key: none blocks")
	require.Contains(t, res.body, `blocking=true`, "the view links keep the filter")
}

// Lists name flows the way people know them, the slug beside the name.
func TestListsNameFlows(t *testing.T) {
	t.Parallel()
	tb, _ := setupInbox(t)
	tb.user(t, "sam@shop.example", account.RoleSupport)
	sam := tb.browser(t)
	sam.signIn("sam@shop.example")
	for _, path := range []string{"/inbox", "/inbox?view=list", "/messages", "/environments"} {
		t.Run(path, func(t *testing.T) {
			res := sam.get(path)
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Regexp(t, `shop orders\s*<span class="hint mono">shop-orders</span>`, res.body)
		})
	}
}

// Lists say when as people scan it ("just now", "3 minutes ago") and keep
// the exact time on hover and in the <time> element.
func TestListsShowRelativeTimesWithTheExactOneOnHover(t *testing.T) {
	t.Parallel()
	tb, _ := setupInbox(t)
	tb.user(t, "sam@shop.example", account.RoleAdmin)
	sam := tb.browser(t)
	sam.signIn("sam@shop.example")
	moment := regexp.MustCompile(`<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">(just now|\d+ (second|minute)s? ago)</time>`)
	for _, path := range []string{"/inbox", "/inbox?view=list", "/messages", "/flows", "/admin/audit"} {
		t.Run(path, func(t *testing.T) {
			res := sam.get(path)
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Regexp(t, moment, res.body)
		})
	}
}

// The inbox and the explorer show the customer and amount a flow derives
// (keys.customer, keys.amount) beside the order number.
func TestListsShowCustomerAndAmount(t *testing.T) {
	t.Parallel()
	tb, _ := setupInbox(t)
	tb.user(t, "sam@shop.example", account.RoleSupport)
	sam := tb.browser(t)
	sam.signIn("sam@shop.example")
	for _, path := range []string{"/inbox?view=list", "/messages"} {
		t.Run(path, func(t *testing.T) {
			res := sam.get(path)
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Regexp(t, `<span class="customer">ana.silva@example.com</span>\s*·\s*<span class="amount">64.87 EUR</span>`, res.body)
		})
	}
}

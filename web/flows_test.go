package web_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/mappings"
)

var revisionField = regexp.MustCompile(`name="revision" value="(\d+)"`)

func (br *browser) revision() string {
	br.t.Helper()
	res := br.lastBody
	m := revisionField.FindStringSubmatch(res)
	require.NotNil(br.t, m, "no revision on the page")
	return m[1]
}

func createStorefrontFlow(t testing.TB, br *browser) {
	t.Helper()
	br.get("/flows")
	res := br.post("/flows", url.Values{"name": {"Shop orders"}, "slug": {"shop-orders"}, "template": {"storefront-order-to-erp"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Equal(t, "/flows/shop-orders", res.Header.Get("Location"))
}

func TestFlowsListAndCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	b.user(t, "vic@shop.example", account.RoleViewer)
	br := b.browser(t)
	br.signIn("ana@shop.example")

	res := br.get("/flows")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, "No flows yet")
	require.Contains(t, res.body, "template: storefront-order-to-erp")

	createStorefrontFlow(t, br)
	res = br.get("/flows/shop-orders")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, "Created Shop orders")
	require.Contains(t, res.body, "Route ")

	res = br.post("/flows", url.Values{"name": {"dup"}, "slug": {"shop-orders"}})
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Contains(t, res.body, "already exists")
	res = br.post("/flows", url.Values{"name": {"bad"}, "slug": {"Bad Slug"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "lowercase letters")

	list := br.get("/flows?q=shop")
	require.Contains(t, list.body, `href="/flows/shop-orders"`)
	require.NotContains(t, br.get("/flows?q=nothing-like-it").body, `href="/flows/shop-orders"`)

	// A viewer reads but cannot create or change.
	viewer := b.browser(t)
	viewer.signIn("vic@shop.example")
	page := viewer.get("/flows/shop-orders")
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.NotContains(t, page.body, `id="save"`)
	require.Contains(t, page.body, "disabled")
	require.Equal(t, http.StatusForbidden, viewer.post("/flows", url.Values{"name": {"x"}}).StatusCode)
	require.Equal(t, http.StatusForbidden, viewer.post("/flows/shop-orders/draft", url.Values{"revision": {"1"}}).StatusCode)
	require.Equal(t, http.StatusForbidden, viewer.post("/flows/shop-orders/publish", url.Values{"revision": {"1"}}).StatusCode)

	require.Equal(t, http.StatusNotFound, br.get("/flows/no-such-flow").StatusCode)
}

func TestDesignerPreviewShowsLiveValuesAndErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)
	page := br.get("/flows/shop-orders")
	rev := br.revision()
	require.Contains(t, page.body, `name="f:/routes/0/mapping/1/expr"`)

	preview := func(expr string) response {
		form := url.Values{"revision": {rev}, "sample": {"0"}, "f:/routes/0/mapping/1/expr": {expr}}
		req := httptest.NewRequest(http.MethodPost, "/flows/shop-orders/preview", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-CSRF-Token", br.csrf)
		return br.do(req)
	}
	res := preview(`"LIVE-" + "VALUE"`)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Contains(t, res.body, `id="live-routes-0-mapping-1-expr"`)
	require.Contains(t, res.body, `hx-swap-oob="morph"`)
	require.Contains(t, res.body, "LIVE-VALUE")

	res = preview(`source.nmae +`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, "live-error")
	require.Contains(t, res.body, `class="caret"`)
	require.Contains(t, res.body, "problem")

	// The preview saved nothing.
	f, err := mappings.FlowBySlug(context.Background(), b.db, "shop-orders")
	require.NoError(t, err)
	require.Equal(t, 1, f.DraftRevision)
}

// TestDesignerPreviewAnswersOnlyWhatChanged: each preview fragment carries
// the digest of its HTML (data-v); fragments whose digest the page sends
// back as shown are left out, so a keystroke is answered with the few
// fragments it changed.
func TestDesignerPreviewAnswersOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)
	br.get("/flows/shop-orders")
	rev := br.revision()
	digest := regexp.MustCompile(`<div data-v="([0-9a-z]+)" [^>]*id="([^"]+)"`)
	preview := func(expr string, shown []string) map[string]string {
		t.Helper()
		form := url.Values{"revision": {rev}, "sample": {"0"}, "f:/routes/0/mapping/1/expr": {expr}, "shown": {strings.Join(shown, " ")}}
		res := br.htmxPost("/flows/shop-orders/preview", form)
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		parts := map[string]string{}
		for _, m := range digest.FindAllStringSubmatch(res.body, -1) {
			parts[m[2]] = m[1]
		}
		require.Equal(t, strings.Count(res.body, `hx-swap-oob="morph"`), len(parts), "every fragment carries its digest")
		return parts
	}
	all := preview(`"A"`, nil)
	require.Greater(t, len(all), 100, "without digests every fragment is answered")
	var shown []string
	for _, v := range all {
		shown = append(shown, v)
	}
	// The same form again: only what reads the clock (rows using now(),
	// and their route's output) can differ.
	again := preview(`"A"`, shown)
	require.NotContains(t, again, "live-routes-0-mapping-1-expr")
	require.Less(t, len(again), 5, "unchanged fragments were answered again: %v", again)

	changed := preview(`"B"`, shown)
	require.Contains(t, changed, "live-routes-0-mapping-1-expr")
	require.Contains(t, changed, "output-0", "the route's output shows the new value")
	require.NotContains(t, changed, "live-routes-0-mapping-2-expr", "another row's value did not change")
	require.Less(t, len(changed), 10)
	require.NotEqual(t, all["live-routes-0-mapping-1-expr"], changed["live-routes-0-mapping-1-expr"])
}

func TestDesignerSavePublishDiffRestore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)
	ctx := context.Background()
	f, err := mappings.FlowBySlug(ctx, b.db, "shop-orders")
	require.NoError(t, err)

	br.get("/flows/shop-orders")
	res := br.post("/flows/shop-orders/publish", url.Values{"revision": {br.revision()}, "note": {"first"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Contains(t, br.get("/flows/shop-orders").body, "Published version 1.")

	// Change one row, save, try to publish: the template's test cases catch it.
	res = br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"save"}, "f:/routes/0/mapping/1/expr": {`"CHANGED"`}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	br.get("/flows/shop-orders")
	res = br.post("/flows/shop-orders/publish", url.Values{"revision": {br.revision()}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "failing test case")
	require.Contains(t, res.body, "badge-bad", "failing cases are marked with their diff")

	// Structural edits: add a row after row 0, then remove it again.
	d, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	rows := len(d.Definition.Routes[0].Mapping)
	br.get("/flows/shop-orders")
	res = br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"add-row:/routes/0/mapping/1"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	d, err = mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.Len(t, d.Definition.Routes[0].Mapping, rows+1)
	require.Equal(t, "newField", d.Definition.Routes[0].Mapping[1].Target)
	br.get("/flows/shop-orders")
	res = br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"remove:/routes/0/mapping/1"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)

	// Restore v1, change a description only, publish v2, compare.
	br.get("/flows/shop-orders/versions")
	res = br.post("/flows/shop-orders/versions/1/restore", url.Values{"revision": {br.revision()}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	br.get("/flows/shop-orders")
	res = br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"save"}, "f:/validation/0/message": {"changed message"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	br.get("/flows/shop-orders")
	res = br.post("/flows/shop-orders/publish", url.Values{"revision": {br.revision()}, "note": {"second"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)

	diff := br.get("/flows/shop-orders/versions?a=1&b=2")
	require.Equal(t, http.StatusOK, diff.StatusCode)
	require.Contains(t, diff.body, "changed message")
	require.Equal(t, 1, strings.Count(diff.body, `class="diff-`), "exactly one change between v1 and v2:\n%s", diff.body)

	exp := br.get("/flows/shop-orders/definition.json?version=1")
	require.Equal(t, http.StatusOK, exp.StatusCode)
	require.Contains(t, exp.Header.Get("Content-Disposition"), "shop-orders.v1.json")
	require.Contains(t, exp.body, `"formatVersion": 1`)

	entries, err := account.AuditList(ctx, b.db, account.AuditFilter{Target: "shop-orders"})
	require.NoError(t, err)
	actions := map[string]bool{}
	for _, e := range entries {
		actions[e.Action] = true
	}
	for _, a := range []string{"flow.create", "flow.draft_save", "flow.publish", "flow.restore"} {
		require.True(t, actions[a], "audit lacks %s", a)
	}
}

func TestDraftSaveConflictKeepsBothEdits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	b.user(t, "kim@shop.example", account.RoleAnalyst)
	ana, kim := b.browser(t), b.browser(t)
	ana.signIn("ana@shop.example")
	kim.signIn("kim@shop.example")
	createStorefrontFlow(t, ana)
	ana.get("/flows/shop-orders")
	kim.get("/flows/shop-orders")
	anaRev, kimRev := ana.revision(), kim.revision()

	res := kim.post("/flows/shop-orders/draft", url.Values{"revision": {kimRev}, "f:/validation/0/message": {"KIM WAS HERE"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	res = ana.post("/flows/shop-orders/draft", url.Values{"revision": {anaRev}, "f:/validation/0/message": {"ANA WAS HERE"}})
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Contains(t, res.body, "kim@shop.example saved this draft")
	require.Contains(t, res.body, "ANA WAS HERE", "her edit is still in the form")
	require.Contains(t, res.body, "KIM WAS HERE", "his change is listed")
	require.Contains(t, res.body, `id="reload"`)

	f, err := mappings.FlowBySlug(context.Background(), b.db, "shop-orders")
	require.NoError(t, err)
	d, err := mappings.DraftGet(context.Background(), b.db, f.ID)
	require.NoError(t, err)
	require.Equal(t, "KIM WAS HERE", d.Definition.Validation[0].Message)
}

func TestSamplesAndTestCases(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)
	ctx := context.Background()
	f, err := mappings.FlowBySlug(ctx, b.db, "shop-orders")
	require.NoError(t, err)
	d, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	samples := len(d.Definition.Source.Samples)

	upload := func(name, payload string) response {
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		_ = w.WriteField("_csrf", br.csrf)
		_ = w.WriteField("revision", br.revision())
		_ = w.WriteField("name", name)
		fw, _ := w.CreateFormFile("file", "sample.json")
		_, _ = fw.Write([]byte(payload))
		_ = w.Close()
		req := httptest.NewRequest(http.MethodPost, "/flows/shop-orders/samples", &body)
		req.Header.Set("Content-Type", w.FormDataContentType())
		return br.do(req)
	}
	br.get("/flows/shop-orders")
	res := upload("broken", `{"id": `)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "not valid JSON")

	br.get("/flows/shop-orders")
	first := string(d.Definition.Source.Samples[0].Payload)
	res = upload("copy of the first", first)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	page := br.get(res.Header.Get("Location"))
	require.Contains(t, page.body, "copy of the first")

	res = br.post("/flows/shop-orders/tests", url.Values{"revision": {br.revision()}, "sample": {itoa(int64(samples))}, "name": {"uploaded sample"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	br.get("/flows/shop-orders")
	res = br.post("/flows/shop-orders/tests", url.Values{"revision": {br.revision()}, "sample": {"0"}, "name": {"uploaded sample"}})
	require.Equal(t, http.StatusConflict, res.StatusCode)

	res = br.post("/flows/shop-orders/tests/run", url.Values{})
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, "test cases passed")
	require.Contains(t, res.body, "4 of 4 test cases passed.")
	require.NotContains(t, res.body, `<span class="badge badge-bad">failed</span>`)
}

func TestLookupTables(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)
	ctx := context.Background()

	page := br.get("/flows/shop-orders")
	require.Contains(t, page.body, `href="/flows/shop-orders/lookups/carrier"`)
	page = br.get("/flows/shop-orders/lookups/carrier")
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, page.body, `value="DHL-EXPRESS"`)

	// Edit: change a value, add a row, delete a row (empty key).
	form := url.Values{"revision": {br.revision()}, "description": {"carriers"}, "missing": {"error"},
		"key": {"DHL-STANDARD", "DHL-EXPRESS", "", "UPS"}, "value": {"01", "02", "", "03"}}
	res := br.post("/flows/shop-orders/lookups/carrier", form)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	f, err := mappings.FlowBySlug(ctx, b.db, "shop-orders")
	require.NoError(t, err)
	d, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	lk := d.Definition.Lookups["carrier"]
	require.Len(t, lk.Entries, 3, "PICKUP was removed, UPS added")
	require.JSONEq(t, `"03"`, string(lk.Entries["UPS"]))

	br.get("/flows/shop-orders/lookups/carrier")
	res = br.post("/flows/shop-orders/lookups/carrier", url.Values{"revision": {br.revision()}, "key": {"A", "A"}, "value": {"1", "2"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "appears twice")
	res = br.post("/flows/shop-orders/lookups/carrier", url.Values{"revision": {br.revision()}, "key": {"A"}, "value": {`{"broken": `}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "not valid JSON")

	// CSV round trip of a record table.
	csvRes := br.get("/flows/shop-orders/lookups/plant/csv")
	require.Equal(t, http.StatusOK, csvRes.StatusCode)
	require.True(t, strings.HasPrefix(csvRes.body, "key,distributionChannel,plant,salesOrg\n"), csvRes.body)

	upload := func(name, content string) response {
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		_ = w.WriteField("_csrf", br.csrf)
		_ = w.WriteField("revision", br.revision())
		fw, _ := w.CreateFormFile("file", name)
		_, _ = fw.Write([]byte(content))
		_ = w.Close()
		req := httptest.NewRequest(http.MethodPost, "/flows/shop-orders/lookups/plant/csv", &body)
		req.Header.Set("Content-Type", w.FormDataContentType())
		return br.do(req)
	}
	br.get("/flows/shop-orders/lookups/plant")
	res = upload("plant.csv", csvRes.body+"store-hamburg,10,P300,DE01\n")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	d, err = mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"distributionChannel":"10","plant":"P300","salesOrg":"DE01"}`, string(d.Definition.Lookups["plant"].Entries["store-hamburg"]))
	br.get("/flows/shop-orders/lookups/plant")
	res = upload("dup.csv", "key,value\na,1\na,2\n")
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "was not imported")

	// New table; bad names refused.
	br.get("/flows/shop-orders")
	res = br.post("/flows/shop-orders/lookups", url.Values{"revision": {br.revision()}, "name": {"warehouse"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	br.get("/flows/shop-orders")
	res = br.post("/flows/shop-orders/lookups", url.Values{"revision": {br.revision()}, "name": {"bad name"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Equal(t, http.StatusNotFound, br.get("/flows/shop-orders/lookups/nope").StatusCode)
}

// TestDesignerSetsChannelAndSLA: the channel expression and the SLA the
// dashboard judges a flow by are set in the designer like every other
// field, with the default SLA shown while none is set.
func TestDesignerSetsChannelAndSLA(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)
	ctx := context.Background()
	f, err := mappings.FlowBySlug(ctx, b.db, "shop-orders")
	require.NoError(t, err)

	page := br.get("/flows/shop-orders")
	require.Contains(t, page.body, `id="sla"`)
	require.Contains(t, page.body, "Leave both empty for the default, 99 % within 60 s.")
	require.Contains(t, page.body, `name="f:/keys/channel"`)

	res := br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"save"},
		"f:/keys/channel": {`source.store_id`}, "f:/sla/withinSeconds": {"120"}, "f:/sla/objectivePercent": {"99.5"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	d, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.Equal(t, "source.store_id", d.Definition.Keys.Channel)
	require.Equal(t, &engine.SLA{WithinSeconds: 120, ObjectivePercent: 99.5}, d.Definition.SLA)
	page = br.get("/flows/shop-orders")
	require.Contains(t, page.body, `value="120"`)
	require.Contains(t, page.body, `value="99.5"`)

	// A word where a number belongs is refused with what to type, and the
	// draft keeps what it had.
	res = br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"save"}, "f:/sla/withinSeconds": {"two minutes"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "must be a whole number of seconds")
	d, err = mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.Equal(t, 120, d.Definition.SLA.WithinSeconds)

	// A window without an objective is not a service level: the designer
	// names the missing field.
	br.get("/flows/shop-orders")
	res = br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"save"}, "f:/sla/withinSeconds": {"30"}, "f:/sla/objectivePercent": {""}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	page = br.get("/flows/shop-orders")
	require.Contains(t, page.body, "/sla/objectivePercent")

	// Emptying both returns the flow to the default.
	res = br.post("/flows/shop-orders/draft", url.Values{"revision": {br.revision()}, "op": {"save"}, "f:/sla/withinSeconds": {""}, "f:/sla/objectivePercent": {""}, "f:/keys/channel": {""}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	d, err = mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	require.Nil(t, d.Definition.SLA)
	require.Empty(t, d.Definition.Keys.Channel)
}

package web_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/mappings"
)

// testsBundle is a storefront flow made by an analyst signed in as br.
type testsBundle struct {
	*testBundle
	br *browser
}

func setupTests(t *testing.T) testsBundle {
	t.Helper()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)
	return testsBundle{testBundle: b, br: br}
}

func (tb testsBundle) draft(t *testing.T) mappings.Draft {
	t.Helper()
	ctx := context.Background()
	f, err := mappings.FlowBySlug(ctx, tb.db, "shop-orders")
	require.NoError(t, err)
	d, err := mappings.DraftGet(ctx, tb.db, f.ID)
	require.NoError(t, err)
	return d
}

// change saves the draft as changed by edit, as another editor would.
func (tb testsBundle) change(t *testing.T, edit func(def *engine.Definition)) {
	t.Helper()
	d := tb.draft(t)
	def := *d.Definition
	edit(&def)
	_, err := mappings.DraftSave(context.Background(), tb.db, d.FlowID, d.Revision, &def, mappings.Editor{Email: "ana@shop.example"})
	require.NoError(t, err)
}

func (tb testsBundle) audited(t *testing.T, action string) int {
	t.Helper()
	var n int
	require.NoError(t, tb.db.QueryRow(context.Background(), `select count(*) from audit_entries where action = $1`, action).Scan(&n))
	return n
}

// form posts to the designer with the revision of the page last seen.
func (tb testsBundle) form(path string, kv ...string) response {
	tb.br.get("/flows/shop-orders")
	v := url.Values{"revision": {tb.br.revision()}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return tb.br.post("/flows/shop-orders/"+path, v)
}

func TestTestCaseManagement(t *testing.T) {
	t.Parallel()

	t.Run("accept one, then all failing", func(t *testing.T) {
		t.Parallel()
		tb := setupTests(t)
		// An intentional change: the ERP now wants the order name in
		// upper case, so every case's expected key is stale.
		tb.change(t, func(def *engine.Definition) {
			def.Keys.Idempotency = `"v2-" + string(source.id)`
		})
		res := tb.br.post("/flows/shop-orders/tests/run", url.Values{})
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, res.body, "1 of 3 test cases passed.", "the rejected order's case expects no key")
		body := html.UnescapeString(res.body)
		require.Contains(t, body, `"storefront-5012345678901"`, "the diff shows the expected key")
		require.Contains(t, body, `"v2-5012345678901"`, "and the actual one")
		require.Contains(t, res.body, `id="accept-all"`)
		require.Contains(t, res.body, "Accept actual for all 2 failing")

		before := tb.draft(t).Revision
		res = tb.br.post("/flows/shop-orders/tests/accept", url.Values{"revision": {tb.br.revision()}, "test": {"0"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		d := tb.draft(t)
		require.Equal(t, before+1, d.Revision, "one revision")
		require.Equal(t, "v2-5012345678901", *d.Definition.Tests[0].Expect.Key)
		require.NotEqual(t, "v2-5012345678901", *d.Definition.Tests[1].Expect.Key, "only the one case")
		require.Equal(t, 1, tb.audited(t, "flow.test_accept"))

		res = tb.br.post("/flows/shop-orders/tests/run", url.Values{})
		require.Contains(t, res.body, "2 of 3 test cases passed.")
		require.Contains(t, res.body, "Accept actual for all 1 failing")
		res = tb.br.post("/flows/shop-orders/tests/accept", url.Values{"revision": {tb.br.revision()}, "all": {"1"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		require.Equal(t, before+2, tb.draft(t).Revision, "all failing cases in one revision")
		res = tb.br.post("/flows/shop-orders/tests/run", url.Values{})
		require.Contains(t, res.body, "3 of 3 test cases passed.")

		res = tb.br.post("/flows/shop-orders/tests/accept", url.Values{"revision": {tb.br.revision()}, "all": {"1"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "nothing to accept")
	})

	t.Run("accept a mapping failure", func(t *testing.T) {
		t.Parallel()
		tb := setupTests(t)
		tb.change(t, func(def *engine.Definition) {
			def.Keys.Correlation = `decDiv(1, 0, 2)`
		})
		res := tb.form("tests/accept", "test", "1")
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		x := tb.draft(t).Definition.Tests[1].Expect
		require.NotNil(t, x.MappingError)
		require.Equal(t, "/keys/correlation", x.MappingError.Pointer)
		require.Contains(t, x.MappingError.Contains, "division by zero")
		res = tb.br.post("/flows/shop-orders/tests/run", url.Values{})
		require.Contains(t, res.body, "1 of 3 test cases passed.")
		require.Contains(t, html.UnescapeString(res.body), `expects a mapping error at /keys/correlation containing "decDiv: division by zero`)
	})

	t.Run("edit as JSON", func(t *testing.T) {
		t.Parallel()
		tb := setupTests(t)
		page := tb.br.get("/flows/shop-orders")
		require.Contains(t, page.body, `id="test-json-0"`)
		require.Contains(t, html.UnescapeString(page.body), `"expect": {`)
		before := tb.draft(t)

		typed := "{\n  \"name\": \"half typed\",\n  \"input\": {\"id\": 1,,}\n}"
		res := tb.br.post("/flows/shop-orders/tests/edit", url.Values{"revision": {tb.br.revision()}, "test": {"0"}, "json": {typed}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "line 3, column 21: invalid character &#39;,&#39;")
		require.Contains(t, html.UnescapeString(res.body), typed, "the text as typed is still there")
		require.Contains(t, res.body, `id="edit-error-0"`)
		require.Equal(t, before.Revision, tb.draft(t).Revision, "nothing saved")

		for _, bad := range []struct{ json, want string }{
			{`{"name": "x", "input": {}, "expect": {"rutes": {}}}`, `unknown field`},
			{`{"name": "x", "expect": {}}`, `needs an &#34;input&#34;`},
			{`{"name": "", "input": {}, "expect": {}}`, `needs a &#34;name&#34;`},
			{`{"name": "x", "input": {}, "now": "yesterday", "expect": {}}`, `not an RFC 3339 time`},
			{`{"name": "x", "input": {}, "expect": {"routes": []}}`, `line 1, column`},
		} {
			res := tb.br.post("/flows/shop-orders/tests/edit", url.Values{"revision": {tb.br.revision()}, "test": {"0"}, "json": {bad.json}})
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, bad.json)
			require.Contains(t, res.body, bad.want, bad.json)
		}
		dup := `{"name": "` + before.Definition.Tests[1].Name + `", "input": {}, "expect": {}}`
		res = tb.form("tests/edit", "test", "0", "json", dup)
		require.Equal(t, http.StatusConflict, res.StatusCode)
		require.Contains(t, html.UnescapeString(res.body), dup, "kept on a name clash")

		// Someone else saved meanwhile: refused, the text kept, and the
		// page now carries the newest revision, so saving again applies it.
		tb.br.get("/flows/shop-orders")
		stale := tb.br.revision()
		tb.change(t, func(def *engine.Definition) { def.Description = "changed by someone else" })
		kept := `{"name": "kept", "input": {"id": 8}, "expect": {}}`
		res = tb.br.post("/flows/shop-orders/tests/edit", url.Values{"revision": {stale}, "test": {"0"}, "json": {kept}})
		require.Equal(t, http.StatusConflict, res.StatusCode)
		require.Contains(t, html.UnescapeString(res.body), kept)
		require.Equal(t, itoa(int64(tb.draft(t).Revision)), tb.br.revision())

		good := `{"name": "edited", "input": {"id": 7}, "expect": {"mappingError": {"contains": "x"}}}`
		res = tb.form("tests/edit", "test", "0", "json", good)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		tc := tb.draft(t).Definition.Tests[0]
		require.Equal(t, "edited", tc.Name)
		require.JSONEq(t, `{"id": 7}`, string(tc.Input))
		require.Equal(t, &engine.MappingErrorExpectation{Contains: "x"}, tc.Expect.MappingError)
		require.Equal(t, 1, tb.audited(t, "flow.test_edit"))
	})

	t.Run("rename and delete", func(t *testing.T) {
		t.Parallel()
		tb := setupTests(t)
		names := func() []string {
			var out []string
			for _, tc := range tb.draft(t).Definition.Tests {
				out = append(out, tc.Name)
			}
			return out
		}
		was := names()
		res := tb.form("tests/rename", "test", "0", "name", was[1])
		require.Equal(t, http.StatusConflict, res.StatusCode)
		res = tb.form("tests/rename", "test", "0", "name", "  ")
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		res = tb.form("tests/rename", "test", "0", "name", "renamed case")
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		require.Equal(t, []string{"renamed case", was[1], was[2]}, names())

		res = tb.form("tests/delete", "test", "1")
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		require.Equal(t, []string{"renamed case", was[2]}, names())
		res = tb.form("tests/delete", "test", "9")
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "no longer exists")
		require.Equal(t, 1, tb.audited(t, "flow.test_rename"))
		require.Equal(t, 1, tb.audited(t, "flow.test_delete"))

		// A stale form changes nothing.
		tb.br.get("/flows/shop-orders")
		stale := tb.br.revision()
		tb.change(t, func(def *engine.Definition) { def.Description = "changed by someone else" })
		res = tb.br.post("/flows/shop-orders/tests/delete", url.Values{"revision": {stale}, "test": {"0"}})
		require.Equal(t, http.StatusConflict, res.StatusCode)
		require.Len(t, names(), 2)
	})

	t.Run("viewers and support cannot change test cases", func(t *testing.T) {
		t.Parallel()
		tb := setupTests(t)
		tb.user(t, "sue@shop.example", account.RoleSupport)
		sue := tb.browser(t)
		sue.signIn("sue@shop.example")
		page := sue.get("/flows/shop-orders")
		require.NotContains(t, page.body, `id="edit-0"`)
		require.NotContains(t, page.body, `id="delete-sample"`)
		require.Contains(t, page.body, `id="sample-json"`, "everyone may read a sample")
		rev := tb.draft(t).Revision
		for _, path := range []string{"tests/accept", "tests/edit", "tests/rename", "tests/delete", "samples/rename", "samples/delete"} {
			res := sue.post("/flows/shop-orders/"+path, url.Values{"revision": {itoa(int64(rev))}, "test": {"0"}, "sample": {"0"}, "name": {"x"}})
			require.Equal(t, http.StatusForbidden, res.StatusCode, path)
		}
		require.Equal(t, rev, tb.draft(t).Revision)
	})
}

func TestSampleManagement(t *testing.T) {
	t.Parallel()
	tb := setupTests(t)
	d := tb.draft(t)
	require.GreaterOrEqual(t, len(d.Definition.Source.Samples), 2)
	first, second := d.Definition.Source.Samples[0], d.Definition.Source.Samples[1]

	page := tb.br.get("/flows/shop-orders?sample=1")
	require.Contains(t, page.body, `id="sample-json"`)
	var want any
	require.NoError(t, json.Unmarshal(second.Payload, &want))
	shown := html.UnescapeString(page.body)
	start := strings.Index(shown, `id="sample-json">`) + len(`id="sample-json">`)
	var got any
	require.NoError(t, json.Unmarshal([]byte(shown[start:start+strings.Index(shown[start:], "</pre>")]), &got), "the selected sample's JSON")
	require.Equal(t, want, got)

	res := tb.form("samples/rename", "sample", "1", "name", first.Name)
	require.Equal(t, http.StatusConflict, res.StatusCode)
	res = tb.form("samples/rename", "sample", "1", "name", "renamed sample")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Equal(t, "/flows/shop-orders?sample=1#samples-h", res.Header.Get("Location"))
	require.Equal(t, "renamed sample", tb.draft(t).Definition.Source.Samples[1].Name)

	res = tb.form("samples/delete", "sample", "1")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	after := tb.draft(t).Definition.Source.Samples
	require.Len(t, after, len(d.Definition.Source.Samples)-1)
	for _, s := range after {
		require.NotEqual(t, "renamed sample", s.Name)
	}
	res = tb.form("samples/delete", "sample", "99")
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Equal(t, 1, tb.audited(t, "flow.sample_rename"))
	require.Equal(t, 1, tb.audited(t, "flow.sample_delete"))
	require.Len(t, tb.draft(t).Definition.Tests, len(d.Definition.Tests), "test cases keep their own input")
}

func TestSaveMessageAsSample(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	id := tb.acceptOrder(t, "#2001")
	tb.user(t, "ana@shop.example", account.RoleAnalyst)
	tb.user(t, "sue@shop.example", account.RoleSupport)
	ana, sue := tb.browser(t), tb.browser(t)
	ana.signIn("ana@shop.example")
	sue.signIn("sue@shop.example")
	ctx := context.Background()
	samples := func() []engine.Sample {
		f, err := mappings.FlowBySlug(ctx, tb.db, "shop-orders")
		require.NoError(t, err)
		d, err := mappings.DraftGet(ctx, tb.db, f.ID)
		require.NoError(t, err)
		return d.Definition.Source.Samples
	}
	n := len(samples())

	page := sue.get("/messages/" + id)
	require.NotContains(t, page.body, `id="save-sample"`, "support does not edit flows")
	res := sue.post("/messages/"+id+"/sample", url.Values{"name": {"from support"}})
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	page = ana.get("/messages/" + id)
	require.Contains(t, page.body, `id="save-sample"`)
	res = ana.post("/messages/"+id+"/sample", url.Values{"name": {"order 2001"}, "_csrf": {"forged"}})
	require.Equal(t, http.StatusForbidden, res.StatusCode, "CSRF")
	require.Len(t, samples(), n)

	res = ana.post("/messages/"+id+"/sample", url.Values{"name": {"  "}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res = ana.post("/messages/"+id+"/sample", url.Values{"name": {"order 2001"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Equal(t, "/flows/shop-orders?sample="+itoa(int64(n))+"#samples-h", res.Header.Get("Location"))
	got := samples()
	require.Len(t, got, n+1)
	require.Equal(t, "order 2001", got[n].Name)
	require.Contains(t, string(got[n].Payload), "#2001")
	page = ana.get(res.Header.Get("Location"))
	require.Contains(t, page.body, "Added sample “order 2001” from message "+id)

	// The same name again: refused, unless replacing is asked for.
	ana.get("/messages/" + id)
	res = ana.post("/messages/"+id+"/sample", url.Values{"name": {"order 2001"}})
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Contains(t, res.body, "replace a sample with the same name")
	require.Len(t, samples(), n+1)
	res = ana.post("/messages/"+id+"/sample", url.Values{"name": {"order 2001"}, "replace": {"1"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Len(t, samples(), n+1)

	var entries int
	require.NoError(t, tb.db.QueryRow(ctx, `select count(*) from audit_entries where action = 'flow.sample_from_message' and actor_email = 'ana@shop.example'`).Scan(&entries))
	require.Equal(t, 2, entries)

	res = ana.post("/messages/00000000-0000-0000-0000-000000000000/sample", url.Values{"name": {"x"}})
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestExceptionPageSavesPayloadAsSample(t *testing.T) {
	t.Parallel()
	tb, items := setupInbox(t)
	tb.user(t, "ana@shop.example", account.RoleAnalyst)
	tb.user(t, "sam@shop.example", account.RoleSupport)
	ana, sam := tb.browser(t), tb.browser(t)
	ana.signIn("ana@shop.example")
	sam.signIn("sam@shop.example")
	ex := items[0]
	page := sam.get("/inbox/" + itoa(ex.ID))
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.NotContains(t, page.body, `id="save-sample"`)

	page = ana.get("/inbox/" + itoa(ex.ID))
	action := `action="/messages/` + ex.MessageID.String() + `/sample"`
	require.Contains(t, page.body, action)
	res := ana.post("/messages/"+ex.MessageID.String()+"/sample", url.Values{"name": {"failed in dev"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	page = ana.get(res.Header.Get("Location"))
	require.Contains(t, page.body, `aria-current="true">failed in dev</a>`)
}

func TestSavedTestCaseRecordsTheClockOnlyWhenTheResultDependsOnIt(t *testing.T) {
	t.Parallel()
	save := func(t *testing.T, tb testsBundle, name string) engine.TestCase {
		t.Helper()
		res := tb.form("tests", "sample", "0", "name", name)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		tests := tb.draft(t).Definition.Tests
		return tests[len(tests)-1]
	}
	t.Run("a mapping that reads now() records the save time", func(t *testing.T) {
		t.Parallel()
		tb := setupTests(t)
		tc := save(t, tb, "with the clock")
		require.NotEmpty(t, tc.Now, "the storefront template maps now() into the order date")
		_, err := time.Parse(time.RFC3339, tc.Now)
		require.NoError(t, err)
	})
	t.Run("a mapping without the clock records no time", func(t *testing.T) {
		t.Parallel()
		tb := setupTests(t)
		tb.change(t, func(def *engine.Definition) {
			for i := range def.Routes {
				def.Routes[i].Mapping = removeClock(def.Routes[i].Mapping)
			}
		})
		first := save(t, tb, "first")
		require.Empty(t, first.Now)
		second := save(t, tb, "second")
		first.Name = second.Name
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(second)
		require.JSONEq(t, string(a), string(b), "the same sample saved twice is the same case")
	})
}

// removeClock drops every row whose expression reads now().
func removeClock(rows []engine.Row) []engine.Row {
	kept := rows[:0]
	for _, r := range rows {
		if strings.Contains(r.Expr, "now()") {
			continue
		}
		r.Rows = removeClock(r.Rows)
		kept = append(kept, r)
	}
	return kept
}

func TestDesignerRemembersTheSelectedSample(t *testing.T) {
	t.Parallel()
	tb := setupTests(t)
	samples := tb.draft(t).Definition.Source.Samples
	require.GreaterOrEqual(t, len(samples), 2)
	selected := func(path string) string {
		t.Helper()
		page := tb.br.get(path)
		require.Equal(t, http.StatusOK, page.StatusCode, page.body)
		m := regexp.MustCompile(`aria-current="true"[^>]*>([^<]*)<`).FindStringSubmatch(page.body)
		require.NotNil(t, m, "no selected sample on %s", path)
		return html.UnescapeString(m[1])
	}
	require.Equal(t, samples[0].Name, selected("/flows/shop-orders"), "the first sample before any choice")
	require.Equal(t, samples[1].Name, selected("/flows/shop-orders?sample=1"))
	require.Equal(t, samples[1].Name, selected("/flows/shop-orders"), "a reload or a link back keeps the choice")
	require.Equal(t, samples[0].Name, selected("/flows/shop-orders?sample=0"), "choosing the first again")
	require.Equal(t, samples[0].Name, selected("/flows/shop-orders"))

	other := tb.browser(t)
	other.signIn("ana@shop.example")
	tb.br.get("/flows/shop-orders?sample=1")
	page := other.get("/flows/shop-orders")
	require.Contains(t, page.body, `aria-current="true">`+html.EscapeString(samples[0].Name), "another session keeps its own choice")
}

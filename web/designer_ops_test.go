package web_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/mappings"
)

var (
	draftForm     = regexp.MustCompile(`(?s)<form[^>]*id="draft".*?</form>`)
	submitButtons = regexp.MustCompile(`<button[^>]*>`)
	opsField      = regexp.MustCompile(`name="ops" value="([^"]*)"`)
	historyField  = regexp.MustCompile(`name="history" value="([^"]*)"`)
	formFields    = regexp.MustCompile(`<input[^>]*name="(f:[^"]+)"[^>]*value="([^"]*)"[^>]*>`)
)

// Pressing Enter in a text field submits the form's default button, the
// first submit button in it. It must be a plain save, never a removal.
func TestEnterInTheDesignerSubmitsSaveNotARemoval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)

	form := draftForm.FindString(br.get("/flows/shop-orders").body)
	require.NotEmpty(t, form)
	var first string
	for _, btn := range submitButtons.FindAllString(form, -1) {
		if !strings.Contains(btn, `type="button"`) {
			first = btn
			break
		}
	}
	require.Contains(t, first, `value="save"`, "the form's default button is %s", first)
	require.NotContains(t, first, "remove")
	require.Contains(t, first, `hx-post="/flows/shop-orders/draft/ops"`, "Enter saves through the operations endpoint")
	require.Equal(t, 1, strings.Count(form, `class="default-submit"`), "one Enter guard")

	// The same after operations that add routes, targets and nested rows
	// with their own remove buttons: the answer's first button still saves.
	for _, op := range []string{"add-route:/routes/1", "add-target:/targets/0", "add-foreach:/routes/0/mapping/0", "add-object:/routes/1/mapping/0"} {
		res := br.op(op)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", op, res.body)
		first = ""
		for _, btn := range submitButtons.FindAllString(draftForm.FindString(res.body), -1) {
			if !strings.Contains(btn, `type="button"`) {
				first = btn
				break
			}
		}
		require.Contains(t, first, `value="save"`, "after %s the form's default button is %s", op, first)
	}
}

// The structure editor's operations (mappings/structure.go) travel as
// operations too: a burst of them is one revision, each is undone and
// redone, and the plain form applies them the same way.
func TestStructureOperationsThroughTheOperationsEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)
	br.get("/flows/shop-orders")
	start := draftNow(t, b)
	routes, targets, rows := len(start.Definition.Routes), len(start.Definition.Targets), len(start.Definition.Routes[0].Mapping)

	for _, op := range []string{
		"add-foreach:/routes/0/mapping/0",
		"add-constant:/routes/0/mapping/0/rows/1",
		"add-object:/routes/0/mapping/1",
		"add-array:/routes/0/mapping/2",
		"add-target:/targets/" + strconv.Itoa(targets),
		"duplicate-route:/routes/0",
		"add-route:/routes/" + strconv.Itoa(routes+1),
		"up:/targets/" + strconv.Itoa(targets),
	} {
		res := br.op(op)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", op, res.body)
		require.Regexp(t, `id="dirty"[^>]*>Unsaved changes`, res.body, op)
	}
	require.Equal(t, start.Revision, draftNow(t, b).Revision, "operations are not saved one by one")
	// Undo the move and the new route, then redo them.
	require.True(t, strings.Contains(br.op("undo").body, "Redo move up /targets/"+strconv.Itoa(targets)), "undo the move")
	require.True(t, strings.Contains(br.op("undo").body, "Redo add route /routes/"+strconv.Itoa(routes+1)), "undo the new route")
	require.Equal(t, http.StatusOK, br.op("redo").StatusCode)
	require.Equal(t, http.StatusOK, br.op("redo").StatusCode)
	res := br.op("save")
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)

	saved := draftNow(t, b)
	require.Equal(t, start.Revision+1, saved.Revision)
	def := saved.Definition
	require.Len(t, def.Routes, routes+2)
	require.Equal(t, def.Routes[0].Name+"-copy", def.Routes[1].Name)
	require.Len(t, def.Targets, targets+1)
	require.Equal(t, "target-"+strconv.Itoa(targets+1), def.Targets[targets-1].Name, "the new target moved up")
	require.Len(t, def.Routes[0].Mapping, rows+3)
	require.NotEmpty(t, def.Routes[0].Mapping[0].ForEach)
	require.Len(t, def.Routes[0].Mapping[0].Rows, 2)
	require.JSONEq(t, `""`, string(def.Routes[0].Mapping[0].Rows[1].Value))
	require.Len(t, def.Routes[0].Mapping[1].Rows, 1)
	require.NotEmpty(t, def.Routes[0].Mapping[2].Expr)
	audits := draftSaves(t, b)
	require.Len(t, audits, 1)
	require.Contains(t, string(audits[0].After), "insert /routes/0/mapping/0, insert /routes/0/mapping/0/rows/1")

	// Without JavaScript each button saves, through the same operations.
	v := url.Values{"revision": {strconv.Itoa(saved.Revision)}, "op": {"remove:/routes/" + strconv.Itoa(routes+1)}}
	res = br.post("/flows/shop-orders/draft", v)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Len(t, draftNow(t, b).Definition.Routes, routes+1)
	v = url.Values{"revision": {strconv.Itoa(saved.Revision + 1)}, "op": {"add-route:/routes/0"}}
	res = br.post("/flows/shop-orders/draft", v)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Len(t, draftNow(t, b).Definition.Routes, routes+2)
}

// op posts one designer operation the way the page does: with the
// revision, unsaved operations and history of the last answer, plus
// fields (pointer → value).
func (br *browser) op(op string, fields ...string) response {
	br.t.Helper()
	v := url.Values{"revision": {br.revision()}, "op": {op}}
	if m := opsField.FindStringSubmatch(br.lastBody); m != nil {
		v.Set("ops", html.UnescapeString(m[1]))
	}
	if m := historyField.FindStringSubmatch(br.lastBody); m != nil {
		v.Set("history", html.UnescapeString(m[1]))
	}
	// Every field of the form travels with every operation, as htmx sends it.
	for _, m := range formFields.FindAllStringSubmatch(draftForm.FindString(br.lastBody), -1) {
		if strings.Contains(m[0], `type="checkbox"`) && !strings.Contains(m[0], " checked") {
			continue // an unchecked box sends nothing
		}
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set("f:"+fields[i], fields[i+1])
	}
	req := httptest.NewRequest(http.MethodPost, "/flows/shop-orders/draft/ops", strings.NewReader(func() string { v.Set("_csrf", br.csrf); return v.Encode() }()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	return br.do(req)
}

func draftNow(t *testing.T, b *testBundle) mappings.Draft {
	t.Helper()
	f, err := mappings.FlowBySlug(context.Background(), b.db, "shop-orders")
	require.NoError(t, err)
	d, err := mappings.DraftGet(context.Background(), b.db, f.ID)
	require.NoError(t, err)
	return d
}

func draftSaves(t *testing.T, b *testBundle) []account.AuditEntry {
	t.Helper()
	entries, err := account.AuditList(context.Background(), b.db, account.AuditFilter{Action: "flow.draft_save", Target: "shop-orders"})
	require.NoError(t, err)
	return entries
}

func TestDraftOperations(t *testing.T) {
	t.Parallel()
	analyst := func(t *testing.T) (*testBundle, *browser) {
		b := setup(t)
		b.user(t, "ana@shop.example", account.RoleAnalyst)
		br := b.browser(t)
		br.signIn("ana@shop.example")
		createStorefrontFlow(t, br)
		br.get("/flows/shop-orders")
		return b, br
	}

	t.Run("a burst of operations is one draft revision and one audit entry", func(t *testing.T) {
		t.Parallel()
		b, br := analyst(t)
		start := draftNow(t, b)
		rows, rules := len(start.Definition.Routes[0].Mapping), len(start.Definition.Validation)

		res := br.op("add-row:/routes/0/mapping/1")
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.Contains(t, res.body, `id="draft"`)
		require.Contains(t, res.body, `value="newField"`)
		require.NotContains(t, res.body, "<html", "an operation answers the form, not the page")
		require.Regexp(t, `id="dirty"[^>]*>Unsaved changes`, res.body)
		res = br.op("remove:/validation/0", "/validation/1/message", "typed between operations")
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.Equal(t, start.Revision, draftNow(t, b).Revision, "operations are not saved one by one")
		require.Empty(t, draftSaves(t, b))

		res = br.op("save")
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.Contains(t, res.body, "Saved draft revision "+strconv.Itoa(start.Revision+1)+".")
		require.Contains(t, res.body, `name="ops" value=""`)
		require.Contains(t, res.body, `id="draft-saved" hx-swap-oob="true">Draft revision `+strconv.Itoa(start.Revision+1)+` saved by ana@shop.example`)
		saved := draftNow(t, b)
		require.Equal(t, start.Revision+1, saved.Revision)
		require.Len(t, saved.Definition.Routes[0].Mapping, rows+1)
		require.Equal(t, "newField", saved.Definition.Routes[0].Mapping[1].Target)
		require.Len(t, saved.Definition.Validation, rules-1)
		require.Equal(t, "typed between operations", saved.Definition.Validation[0].Message, "the field typed before the removal moved with its rule")
		audits := draftSaves(t, b)
		require.Len(t, audits, 1)
		require.Contains(t, string(audits[0].After), "insert /routes/0/mapping/1, remove /validation/0")
	})

	t.Run("undo and redo step through the operations", func(t *testing.T) {
		t.Parallel()
		b, br := analyst(t)
		rules := len(draftNow(t, b).Definition.Validation)
		first := draftNow(t, b).Definition.Validation[0].Name
		require.Contains(t, br.op("remove:/validation/0").body, "Undo remove /validation/0")
		require.NotContains(t, br.lastBody, `value="`+first+`"`)
		res := br.op("undo")
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.Contains(t, res.body, "Redo remove /validation/0")
		res = br.op("redo")
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		res = br.op("undo")
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		br.op("save")
		saved := draftNow(t, b)
		require.Len(t, saved.Definition.Validation, rules)
		require.Equal(t, first, saved.Definition.Validation[0].Name)
		// The history outlives a save: redo removes the rule again.
		require.Equal(t, http.StatusOK, br.op("redo").StatusCode)
		br.op("save")
		require.Len(t, draftNow(t, b).Definition.Validation, rules-1)
	})

	t.Run("another editor's save is a conflict and nothing is overwritten", func(t *testing.T) {
		t.Parallel()
		b, ana := analyst(t)
		b.user(t, "kim@shop.example", account.RoleAnalyst)
		kim := b.browser(t)
		kim.signIn("kim@shop.example")
		kim.get("/flows/shop-orders")

		require.Equal(t, http.StatusOK, ana.op("add-row:/routes/0/mapping/0").StatusCode)
		require.Equal(t, http.StatusOK, kim.op("save", "/validation/0/message", "KIM was here").StatusCode)
		kims := draftNow(t, b)

		res := ana.op("remove:/validation/0")
		require.Equal(t, http.StatusConflict, res.StatusCode)
		require.Contains(t, res.body, `id="conflict"`)
		require.Contains(t, res.body, "kim@shop.example saved this draft")
		res = ana.op("save")
		require.Equal(t, http.StatusConflict, res.StatusCode)

		require.Equal(t, kims.Revision, draftNow(t, b).Revision)
		require.Equal(t, "KIM was here", draftNow(t, b).Definition.Validation[0].Message)

		// Ana starts again from Kim's draft and removes a rule; Kim removes
		// them all and saves first. Ana's removal no longer applies to
		// Kim's draft: a conflict showing Kim's, nothing saved.
		ana.get("/flows/shop-orders")
		require.Equal(t, http.StatusOK, ana.op("remove:/validation/0").StatusCode)
		kim.get("/flows/shop-orders")
		for range kims.Definition.Validation {
			require.Equal(t, http.StatusOK, kim.op("remove:/validation/0").StatusCode)
		}
		require.Equal(t, http.StatusOK, kim.op("save").StatusCode)
		res = ana.op("save")
		require.Equal(t, http.StatusConflict, res.StatusCode, res.body)
		require.Contains(t, res.body, "no longer apply to their draft")
		require.Empty(t, draftNow(t, b).Definition.Validation)
		require.Equal(t, kims.Revision+1, draftNow(t, b).Revision)
	})

	t.Run("bad operations are refused with a reason and nothing is lost", func(t *testing.T) {
		t.Parallel()
		b, br := analyst(t)
		start := draftNow(t, b)
		require.Equal(t, http.StatusOK, br.op("add-row:/routes/0/mapping/0").StatusCode)
		pending := opsField.FindStringSubmatch(br.lastBody)[1]
		for op, want := range map[string]string{
			"explode:/validation/0":   "unknown designer operation “explode”",
			"remove:/validation/99":   "nothing to remove at /validation/99",
			"remove:validation":       "needs a JSON pointer",
			"up:/keys":                "does not name an element of a list",
			`{"op":"replace","path":`: "not valid JSON",
			"redo":                    "nothing to redo",
		} {
			res := br.op(op)
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "%s: %s", op, res.body)
			require.Contains(t, res.body, want, op)
			require.Contains(t, res.body, `id="draft"`, op)
			require.Equal(t, pending, opsField.FindStringSubmatch(res.body)[1], "%s dropped the unsaved operations", op)
		}
		require.Equal(t, start.Revision, draftNow(t, b).Revision)

		// A typed-in field that does not parse changes only the status:
		// the form is not swapped, so what was typed stays.
		res := br.op("save", "/sla/withinSeconds", "sixty")
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Equal(t, "none", res.Header.Get("HX-Reswap"))
		require.Contains(t, res.body, `id="draft-status" hx-swap-oob="true"`)
		require.Contains(t, res.body, "a whole number of seconds")
		require.NotContains(t, res.body, `id="draft"`)
		require.Equal(t, start.Revision, draftNow(t, b).Revision)

		br.get("/flows/shop-orders") // the page as it was before the refusal
		br.op("add-row:/routes/0/mapping/0")
		res = br.op("save")
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.Equal(t, "newField", draftNow(t, b).Definition.Routes[0].Mapping[0].Target)
	})

	t.Run("viewers and forged requests are refused", func(t *testing.T) {
		t.Parallel()
		b, br := analyst(t)
		b.user(t, "val@shop.example", account.RoleViewer)
		viewer := b.browser(t)
		viewer.signIn("val@shop.example")
		viewer.get("/flows/shop-orders")
		res := viewer.post("/flows/shop-orders/draft/ops", url.Values{"revision": {"1"}, "op": {"save"}})
		require.Equal(t, http.StatusForbidden, res.StatusCode)
		res = br.post("/flows/shop-orders/draft/ops", url.Values{"_csrf": {"forged"}, "revision": {"1"}, "op": {"remove:/validation/0"}})
		require.Equal(t, http.StatusForbidden, res.StatusCode)
		require.Empty(t, draftSaves(t, b))
	})

	t.Run("a target path like lines[].sku is explained and becomes a for-each", func(t *testing.T) {
		t.Parallel()
		b, br := analyst(t)
		prev := br.post("/flows/shop-orders/preview", url.Values{"revision": {br.revision()}, "f:/routes/0/mapping/0/target": {"lines[].sku"}})
		require.Equal(t, http.StatusOK, prev.StatusCode)
		require.Contains(t, prev.body, "use a for-each block for arrays")
		require.Contains(t, prev.body, "Make a for-each over source.lines")
		require.Contains(t, prev.body, `value="foreach-from-target:/routes/0/mapping/0"`)
		br.get("/flows/shop-orders")
		res := br.op("foreach-from-target:/routes/0/mapping/0", "/routes/0/mapping/0/target", "lines[].sku")
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.NotContains(t, res.body, "use a for-each block for arrays")
		br.op("save")
		row := draftNow(t, b).Definition.Routes[0].Mapping[0]
		require.Equal(t, "lines", row.Target)
		require.Equal(t, "source.lines", row.ForEach)
		require.Len(t, row.Rows, 1)
		require.Equal(t, "sku", row.Rows[0].Target)
		require.Equal(t, "item.sku", row.Rows[0].Expr)
	})

	t.Run("the form without JavaScript applies unsaved operations before saving", func(t *testing.T) {
		t.Parallel()
		b, br := analyst(t)
		start := draftNow(t, b)
		br.op("add-row:/routes/0/mapping/0")
		v := url.Values{"revision": {br.revision()}, "op": {"remove:/validation/0"}, "ops": {html.UnescapeString(opsField.FindStringSubmatch(br.lastBody)[1])}}
		res := br.post("/flows/shop-orders/draft", v)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		saved := draftNow(t, b)
		require.Equal(t, start.Revision+1, saved.Revision)
		require.Equal(t, "newField", saved.Definition.Routes[0].Mapping[0].Target)
		require.Len(t, saved.Definition.Validation, len(start.Definition.Validation)-1)
	})
}

package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/mappings"
)

const linesSample = `{"id": 7, "name": "#7", "vip": true, "ship": {"city": "Berlin", "zip": "10115"}, "lines": [{"sku": "tee", "qty": 2}, {"sku": "mug", "qty": 1}]}`

// structureBundle is a signed-in analyst with a blank flow whose sample
// has two lines.
type structureBundle struct {
	*testBundle
	br *browser
	f  mappings.Flow
}

func setupStructure(t *testing.T) structureBundle {
	t.Helper()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	br.get("/flows")
	res := br.post("/flows", url.Values{"name": {"Blank"}, "slug": {"blank"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	f, err := mappings.FlowBySlug(context.Background(), b.db, "blank")
	require.NoError(t, err)
	sb := structureBundle{testBundle: b, br: br, f: f}
	sb.save(t, "save", url.Values{"f:/source/samples/0/payload": {linesSample}})
	return sb
}

// save loads the designer, then posts the draft form with fields and op.
func (sb structureBundle) save(t *testing.T, op string, fields url.Values) {
	t.Helper()
	res := sb.try(op, fields)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
}

func (sb structureBundle) try(op string, fields url.Values) response {
	sb.br.get("/flows/blank")
	form := url.Values{"revision": {sb.br.revision()}, "op": {op}}
	for k, v := range fields {
		form[k] = v
	}
	return sb.br.post("/flows/blank/draft", form)
}

func (sb structureBundle) draft(t *testing.T) *engine.Definition {
	t.Helper()
	d, err := mappings.DraftGet(context.Background(), sb.db, sb.f.ID)
	require.NoError(t, err)
	return d.Definition
}

func TestDesignerStructureForEach(t *testing.T) {
	t.Parallel()
	sb := setupStructure(t)
	page := sb.br.get("/flows/blank").body
	require.Contains(t, page, `value="add-foreach:/routes/0/mapping/1"`)
	require.Contains(t, page, `class="default-submit"`, "Enter saves")

	sb.save(t, "add-foreach:/routes/0/mapping/1", nil)
	sb.save(t, "add-row:/routes/0/mapping/1/rows/1", url.Values{
		"f:/routes/0/mapping/1/target":  {"items"},
		"f:/routes/0/mapping/1/forEach": {"source.lines"},
		"f:/routes/0/mapping/1/as":      {"line"},
		"f:/routes/0/mapping/1/index":   {"i"},
		"f:/routes/0/mapping/1/filter":  {"line.qty > 0"},
		// The placeholder child row reads the old item name: rename both.
		"f:/routes/0/mapping/1/rows/0/target": {"sku"},
		"f:/routes/0/mapping/1/rows/0/expr":   {"upper(line.sku)"},
	})
	sb.save(t, "save", url.Values{
		"f:/routes/0/mapping/1/rows/1/target":   {"position"},
		"f:/routes/0/mapping/1/rows/1/expr":     {"(i + 1) * 10"},
		"f:/routes/0/mapping/1/rows/1/when":     {"i < 5"},
		"f:/routes/0/mapping/1/rows/1/omitNull": {"false", "true"},
		"f:/routes/0/mapping/1/rows/1/note":     {"ERP item numbers step by 10"},
	})
	def := sb.draft(t)
	require.Equal(t, engine.Row{Target: "items", ForEach: "source.lines", As: "line", Index: "i", Filter: "line.qty > 0", Rows: []engine.Row{
		{Target: "sku", Expr: "upper(line.sku)"},
		{Target: "position", Expr: "(i + 1) * 10", When: "i < 5", OmitNull: true, Note: "ERP item numbers step by 10"},
	}}, def.Routes[0].Mapping[1])
	require.Nil(t, mappings.Check(def))

	// The block is a collapsible group with each child row's value per
	// item of the selected sample.
	page = sb.br.get("/flows/blank").body
	require.Contains(t, page, `<details class="map-group row-foreach" open`)
	require.Contains(t, page, "for each line in source.lines")
	require.Contains(t, page, "2 items")
	require.Regexp(t, `items\[0\]</span> <code class="live-value">&#34;TEE&#34;`, page)
	require.Regexp(t, `items\[1\]</span> <code class="live-value">&#34;MUG&#34;`, page)
	require.Regexp(t, `items\[1\]</span> <code class="live-value">20`, page)
	require.Contains(t, page, `name="f:/routes/0/mapping/1/rows/1/omitNull" value="true" checked`)

	// Twelve lines: items in run order, rows left out by their condition
	// marked as such.
	var lines []string
	for i := range 12 {
		lines = append(lines, fmt.Sprintf(`{"sku": "s%d", "qty": 1}`, i))
	}
	sb.save(t, "save", url.Values{"f:/source/samples/0/payload": {`{"id": 8, "lines": [` + strings.Join(lines, ",") + `]}`}})
	page = sb.br.get("/flows/blank").body
	cell := page[strings.Index(page, `id="live-routes-0-mapping-1-rows-1-expr"`):]
	cell = cell[:strings.Index(cell, "</ol>")]
	require.Less(t, strings.Index(cell, "items[9]"), strings.Index(cell, "items[10]"))
	require.Equal(t, 7, strings.Count(cell, "omitted"), "position is left out from the sixth line on")
	require.Contains(t, page, "12 items")
	sb.save(t, "save", url.Values{"f:/source/samples/0/payload": {linesSample}})

	// An array of values.
	sb.save(t, "add-array:/routes/0/mapping/2", nil)
	sb.save(t, "save", url.Values{"f:/routes/0/mapping/2/forEach": {"source.lines"}, "f:/routes/0/mapping/2/expr": {"item.sku"}})
	require.Equal(t, engine.Row{Target: "values", ForEach: "source.lines", As: "item", Expr: "item.sku"}, sb.draft(t).Routes[0].Mapping[2])
	page = sb.br.get("/flows/blank").body
	require.Regexp(t, `values\[1\]</span> <code class="live-value">&#34;mug&#34;`, page)

	// A bad place is refused with what would be a good one.
	res := sb.try("add-foreach:/routes/0/mapping/0/rows/0", nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, html.UnescapeString(res.body), "only object and for-each rows hold child rows")
}

func TestDesignerStructureObjectAndConstant(t *testing.T) {
	t.Parallel()
	sb := setupStructure(t)
	sb.save(t, "add-object:/routes/0/mapping/1", nil)
	// Child rows only go into objects and for-each blocks: refused, the
	// typed edits stay on the page, nothing is saved.
	res := sb.try("add-constant:/routes/0/mapping/0/rows/1", url.Values{"f:/routes/0/mapping/1/target": {"shipTo"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, html.UnescapeString(res.body), "Not saved: cannot add a row at /routes/0/mapping/0/rows/1: row /routes/0/mapping/0 (orderNumber) has a value of its own")
	require.Contains(t, res.body, `value="shipTo"`)
	def := sb.draft(t)
	require.Equal(t, "newObject", def.Routes[0].Mapping[1].Target)

	res = sb.try("add-constant:/routes/0/mapping/1/rows/1", url.Values{
		"f:/routes/0/mapping/1/target":        {"shipTo"},
		"f:/routes/0/mapping/1/rows/0/target": {"city"},
		"f:/routes/0/mapping/1/rows/0/expr":   {"source.ship.city"},
	})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	def = sb.draft(t)
	require.Equal(t, engine.Row{Target: "shipTo", Rows: []engine.Row{{Target: "city", Expr: "source.ship.city"}, {Target: "constant", Value: json.RawMessage(`""`)}}}, def.Routes[0].Mapping[1])

	// A constant that is not JSON: refused, naming the field; every field
	// comes back as typed and the draft is untouched.
	before := sb.draft(t)
	res = sb.try("save", url.Values{
		"f:/routes/0/mapping/1/rows/1/target": {"country"},
		"f:/routes/0/mapping/1/rows/1/value":  {`DE`},
		"f:/source/system":                    {"webshop"},
	})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	body := html.UnescapeString(res.body)
	require.Contains(t, body, "Not saved: /routes/0/mapping/1/rows/1/value is not valid JSON")
	require.Contains(t, body, "text goes in double quotes")
	require.Contains(t, body, `>DE</textarea>`, "the constant as typed")
	require.Contains(t, body, `value="country"`, "other fields as typed")
	require.Contains(t, body, `value="webshop"`)
	require.Equal(t, before, sb.draft(t), "nothing saved")

	// While typing, the live preview takes half-typed JSON calmly: the
	// constant's cell says what is wrong, the rest keeps its values.
	preview := url.Values{"revision": {sb.br.revision()}, "sample": {"0"}, "f:/routes/0/mapping/1/rows/1/value": {`{"code": "D`}, "f:/routes/0/mapping/0/expr": {`"PREVIEWED"`}}
	req := httptest.NewRequest(http.MethodPost, "/flows/blank/preview", strings.NewReader(preview.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-CSRF-Token", sb.br.csrf)
	res = sb.br.do(req)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	body = html.UnescapeString(res.body)
	require.Regexp(t, `id="live-routes-0-mapping-1-rows-1-value"[^>]*>\s*<div class="live-error" role="alert">/routes/0/mapping/1/rows/1/value is not valid JSON`, body)
	require.Contains(t, body, `"PREVIEWED"`)

	sb.save(t, "save", url.Values{"f:/routes/0/mapping/1/rows/1/target": {"country"}, "f:/routes/0/mapping/1/rows/1/value": {`{"code": "DE", "eu": true}`}})
	def = sb.draft(t)
	require.JSONEq(t, `{"code": "DE", "eu": true}`, string(def.Routes[0].Mapping[1].Rows[1].Value))
	page := sb.br.get("/flows/blank").body
	require.Contains(t, page, `<details class="map-group row-object" open`)
	require.Contains(t, html.UnescapeString(page), `"shipTo": {`+"\n"+`    "city": "Berlin",`)
}

func TestDesignerStructureRoutesTargetsSource(t *testing.T) {
	t.Parallel()
	sb := setupStructure(t)
	page := sb.br.get("/flows/blank").body
	require.Contains(t, page, `name="f:/source/system" value="storefront"`)
	require.Contains(t, page, `id="add-target"`)
	require.Contains(t, page, `id="add-route"`)

	sb.save(t, "add-target:/targets/1", url.Values{"f:/source/system": {"webshop"}, "f:/source/event": {"order.paid"}})
	sb.save(t, "add-route:/routes/1", url.Values{"f:/targets/1/name": {"crm"}, "f:/targets/1/kind": {"http"}, "f:/targets/1/method": {"PUT"}})
	sb.save(t, "save", url.Values{"f:/routes/1/name": {"crm-vip"}, "f:/routes/1/target": {"crm"}, "f:/routes/1/when": {"source.vip"},
		"f:/routes/1/mapping/0/target": {"customer"}, "f:/routes/1/mapping/0/expr": {"source.name"}})
	def := sb.draft(t)
	require.Equal(t, "webshop", def.Source.System)
	require.Equal(t, "order.paid", def.Source.Event)
	require.Equal(t, []engine.Target{{Name: "capture", Kind: "capture"}, {Name: "crm", Kind: "http", Method: "PUT"}}, def.Targets)
	require.Equal(t, engine.Route{Name: "crm-vip", When: "source.vip", Target: "crm", Mapping: []engine.Row{{Target: "customer", Expr: "source.name"}}}, def.Routes[1])
	require.Nil(t, mappings.Check(def))
	page = sb.br.get("/flows/blank").body
	require.Contains(t, page, `<option value="crm" selected>crm</option>`)
	require.Contains(t, page, `id="route-crm-vip"`)

	// Duplicate, move up, remove.
	sb.save(t, "duplicate-route:/routes/1", nil)
	require.Equal(t, []string{"main", "crm-vip", "crm-vip-copy"}, routeNames(sb.draft(t)))
	sb.save(t, "up:/routes/2", nil)
	require.Equal(t, []string{"main", "crm-vip-copy", "crm-vip"}, routeNames(sb.draft(t)))
	sb.save(t, "remove:/routes/1", nil)
	require.Equal(t, []string{"main", "crm-vip"}, routeNames(sb.draft(t)))
	res := sb.try("duplicate-route:/routes/7", nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, html.UnescapeString(res.body), "/routes/7 does not name a place among the routes")

	// Schema: pasted (bad JSON keeps the text), then inferred from the samples.
	res = sb.try("save", url.Values{"f:/source/schema": {`{"type": "object",`}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, html.UnescapeString(res.body), `>{"type": "object",</textarea>`)
	sb.save(t, "save", url.Values{"f:/source/schema": {`{"type": "object", "properties": {"id": {"type": "integer"}}, "additionalProperties": true}`}})
	require.JSONEq(t, `{"type": "object", "properties": {"id": {"type": "integer"}}, "additionalProperties": true}`, string(sb.draft(t).Source.Schema))
	sb.save(t, "infer-schema:/source/schema", nil)
	def = sb.draft(t)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(def.Source.Schema, &schema))
	require.Contains(t, schema["properties"], "lines")
	require.Nil(t, mappings.Check(def), "the inferred schema fits the mapping")
	page = sb.br.get("/flows/blank").body
	require.Contains(t, page, `&#34;lines&#34;: {`)

	// A viewer sees the structure but no controls.
	sb.user(t, "vic@shop.example", account.RoleViewer)
	viewer := sb.browser(t)
	viewer.signIn("vic@shop.example")
	vp := viewer.get("/flows/blank").body
	require.NotContains(t, vp, `id="add-route"`)
	require.NotContains(t, vp, `value="add-foreach:`)
	require.NotContains(t, vp, `class="default-submit"`)
}

func routeNames(def *engine.Definition) []string {
	var out []string
	for _, r := range def.Routes {
		out = append(out, r.Name)
	}
	return out
}

// TestDesignerEnforcesTheSourceContract: the Source card's checkbox turns
// source.enforce on and off; without a schema the designer says what is
// missing; with one, a sample that breaks it shows as a validation failure.
func TestDesignerEnforcesTheSourceContract(t *testing.T) {
	t.Parallel()
	sb := setupStructure(t)
	t.Run("without a schema the problem says what to do", func(t *testing.T) {
		sb.save(t, "save", url.Values{"f:/source/enforce": {"false", "true"}})
		require.True(t, sb.draft(t).Source.Enforce)
		page := sb.br.get("/flows/blank").body
		require.Contains(t, page, "enforce checks messages against the source schema, and there is none")
		require.Contains(t, page, `id="source-enforce" name="f:/source/enforce" value="true" checked`)
	})
	t.Run("with a schema the sample is checked against it", func(t *testing.T) {
		sb.save(t, "save", url.Values{"f:/source/enforce": {"false", "true"},
			"f:/source/schema": {`{"type": "object", "required": ["customer_id"]}`}})
		page := sb.br.get("/flows/blank").body
		require.NotContains(t, page, "there is none")
		require.Contains(t, page, "missing property &#39;customer_id&#39;")
	})
	t.Run("unchecked turns it off", func(t *testing.T) {
		sb.save(t, "save", url.Values{"f:/source/enforce": {"false"}})
		require.False(t, sb.draft(t).Source.Enforce)
	})
}

package web_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
)

// refSchema requires ref (text) and items whose sku is required.
const refSchema = `{"type": "object", "required": ["ref", "items"], "properties": {"ref": {"type": "string"}, "items": {"type": "array", "items": {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}}}}}`

func mapOp(op, target string, source *string) string {
	v := map[string]any{"target": target}
	if source != nil {
		v["source"] = *source
	}
	b, _ := json.Marshal(map[string]any{"op": op, "path": "/routes/0", "value": v})
	return string(b)
}

func mappingJSON(t *testing.T, def *engine.Definition) string {
	t.Helper()
	b, err := json.Marshal(def.Routes[0].Mapping)
	require.NoError(t, err)
	return string(b)
}

// paneItem is the markup of the pane entry for path.
func paneItem(t *testing.T, page, path string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<li[^>]*data-path="` + regexp.QuoteMeta(path) + `">(.*?)</li>`).FindStringSubmatch(page)
	require.NotNil(t, m, "no pane entry for %s", path)
	return m[1]
}

func TestDesignerPanes(t *testing.T) {
	t.Parallel()

	t.Run("the panes list the sample's fields and the rows' destinations", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		page := sb.br.get("/flows/blank").body
		require.Contains(t, page, `name="pick:/routes/0" value="source.lines[].sku"`)
		require.Contains(t, page, `id="dest-0"`)
		require.Contains(t, page, `data-path="orderNumber"`)
		require.Contains(t, page, "No target schema")
	})

	t.Run("the plain form maps the chosen source field to a destination", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.save(t, mapOp("map", "ref", nil), url.Values{"pick:/routes/0": {"source.id"}})
		require.JSONEq(t, `[{"target":"orderNumber","expr":"source.name"},{"target":"ref","expr":"source.id"}]`, mappingJSON(t, sb.draft(t)))
		sb.save(t, mapOp("map", "orderNumber", nil), url.Values{"pick:/routes/0": {"source.ship.city"}})
		require.JSONEq(t, `[{"target":"orderNumber","expr":"source.ship.city"},{"target":"ref","expr":"source.id"}]`, mappingJSON(t, sb.draft(t)))
	})

	t.Run("map each makes a for-each pairing the items' fields", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.save(t, "save", url.Values{"f:/routes/0/targetSchema": {refSchema}})
		sb.save(t, mapOp("map-each", "items", nil), url.Values{"pick:/routes/0": {"source.lines"}})
		require.JSONEq(t, `[{"target":"orderNumber","expr":"source.name"},{"target":"items","forEach":"source.lines","as":"line","rows":[{"target":"sku","expr":"line.sku"}]}]`, mappingJSON(t, sb.draft(t)))
		// The pair is numbered alike on both sides.
		page := sb.br.get("/flows/blank").body
		require.Contains(t, paneItem(t, page, "source.lines[].sku"), `>2</span>`)
		require.Contains(t, paneItem(t, page, "items[].sku"), `>2</span>`)
		require.Contains(t, paneItem(t, page, "source.lines"), `>1</span>`)
		require.NotContains(t, paneItem(t, page, "source.id"), `link-badge`)
	})

	t.Run("a mapping made through the operations endpoint is undone like any operation", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.br.get("/flows/blank")
		rev := sb.br.revision()
		res := sb.br.htmxPost("/flows/blank/draft/ops", url.Values{"revision": {rev}, "op": {mapOp("map", "ref", nil)}, "pick:/routes/0": {"source.id"}})
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.Contains(t, res.body, `value="ref"`, "the new row's target")
		require.Contains(t, res.body, `title="Undo map field /routes/0"`)
		require.NotRegexp(t, `value="source.id"[^>]*checked`, res.body, "the pair is made: the choice starts afresh")
		ops, history := opsField.FindStringSubmatch(res.body), historyField.FindStringSubmatch(res.body)
		require.NotNil(t, ops)
		require.NotNil(t, history)
		res = sb.br.htmxPost("/flows/blank/draft/ops", url.Values{"revision": {rev}, "op": {"undo"}, "ops": {html.UnescapeString(ops[1])}, "history": {html.UnescapeString(history[1])}})
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.NotContains(t, res.body, `value="ref"`)
	})

	t.Run("a chosen source field stays chosen across a save", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.br.get("/flows/blank")
		res := sb.br.htmxPost("/flows/blank/draft/ops", url.Values{"revision": {sb.br.revision()}, "op": {"save"}, "pick:/routes/0": {"source.ship.city"}})
		require.Equal(t, http.StatusOK, res.StatusCode, res.body)
		require.Regexp(t, `<input type="radio" name="pick:/routes/0" value="source.ship.city" aria-label="source.ship.city" checked`, res.body)
	})

	t.Run("a destination without a chosen source is refused, saying what to do", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		res := sb.try(mapOp("map", "ref", nil), nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, html.UnescapeString(res.body), "choose a source field on the left first, then the destination ref")
		res = sb.try(mapOp("map-each", "items", nil), nil)
		require.Contains(t, html.UnescapeString(res.body), "choose a source list on the left first")
	})

	t.Run("an item field outside its for-each is refused with the way out", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		res := sb.try(mapOp("map", "ref", nil), url.Values{"pick:/routes/0": {"source.lines[].sku"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, html.UnescapeString(res.body), "first use “map each” from source.lines onto a list in the destination")
	})

	t.Run("an operation that is not readable is refused", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		res := sb.try(`{"op":"map","path":"/routes/0","value":"ref"}`, nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, html.UnescapeString(res.body), "the map operation is not readable")
	})

	t.Run("required fields no row maps are listed, one click adds a row", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.save(t, "save", url.Values{"f:/routes/0/targetSchema": {refSchema}})
		page := html.UnescapeString(sb.br.get("/flows/blank").body)
		require.Contains(t, page, "2 required fields not mapped")
		require.Contains(t, page, `aria-label="Add a row for ref"`)
		require.Contains(t, page, "not in the schema", "orderNumber is not in it")
		none := ""
		sb.save(t, mapOp("map", "ref", &none), nil)
		require.JSONEq(t, `[{"target":"orderNumber","expr":"source.name"},{"target":"ref","expr":"nil"}]`, mappingJSON(t, sb.draft(t)))
		page = html.UnescapeString(sb.br.get("/flows/blank").body)
		require.Contains(t, page, "1 required field not mapped")
		require.Contains(t, page, "null is null; the schema wants text", "the placeholder's live value does not fit")
		require.Contains(t, page, `aria-label="Add a for-each for items"`, "a list is one click from a for-each")
		sb.save(t, mapOp("map-each", "items", &none), nil)
		require.JSONEq(t, `[{"target":"orderNumber","expr":"source.name"},{"target":"ref","expr":"nil"},{"target":"items","forEach":"[]","as":"item","rows":[{"target":"sku","expr":"nil"}]}]`, mappingJSON(t, sb.draft(t)))
		require.Contains(t, sb.br.get("/flows/blank").body, "Every required field is mapped.")
	})

	t.Run("a target schema that is not JSON keeps the text and says why", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		res := sb.try("save", url.Values{"f:/routes/0/targetSchema": {`{"type": "object",`}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		body := html.UnescapeString(res.body)
		require.Contains(t, body, `>{"type": "object",</textarea>`)
		require.Contains(t, body, "/routes/0/targetSchema is not valid JSON")
	})

	t.Run("a target schema that is not a JSON Schema is a problem", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.save(t, "save", url.Values{"f:/routes/0/targetSchema": {`{"type": 12}`}})
		require.Contains(t, html.UnescapeString(sb.br.get("/flows/blank").body), "target schema is not a valid JSON Schema")
	})

	t.Run("a target schema over the limits is not saved, saying which limit", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		deep := strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70)
		res := sb.try("save", url.Values{"f:/routes/0/targetSchema": {deep}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.body)
		require.Contains(t, html.UnescapeString(res.body), `route "main"'s target schema nests 70 levels deep; at most 64 are allowed`)
		require.Empty(t, sb.draft(t).Routes[0].TargetSchema)
	})

	t.Run("a schema is inferred from an example output", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.save(t, "infer-target-schema:/routes/0", url.Values{"example:/routes/0": {`{"ref": "7", "total": 1.5}`}})
		require.JSONEq(t, `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"ref":{"type":"string"},"total":{"type":"number"}},"required":["ref","total"]}`, string(sb.draft(t).Routes[0].TargetSchema))
		for example, want := range map[string]string{
			"":         "paste an example output (JSON) of route main first",
			`{"ref": `: "the example output is not valid JSON",
			`"text"`:   "the example output must be a JSON object",
		} {
			res := sb.try("infer-target-schema:/routes/0", url.Values{"example:/routes/0": {example}})
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, example)
			require.Contains(t, html.UnescapeString(res.body), want)
		}
	})

	t.Run("the live preview checks the output against the schema", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.save(t, "save", url.Values{"f:/routes/0/targetSchema": {refSchema}, "f:/routes/0/mapping/0/target": {"ref"}, "f:/routes/0/mapping/0/expr": {"source.id"}})
		sb.br.get("/flows/blank")
		res := sb.br.htmxPost("/flows/blank/preview", url.Values{"revision": {sb.br.revision()}, "f:/routes/0/mapping/0/expr": {"source.id"}})
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, res.body, `id="dest-0" hx-swap-oob="morph"`)
		require.Contains(t, html.UnescapeString(res.body), "7 is a whole number; the schema wants text")
	})

	t.Run("publishing warns about required fields no row maps", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.save(t, "save", url.Values{"f:/routes/0/targetSchema": {refSchema}})
		sb.br.get("/flows/blank")
		res := sb.br.post("/flows/blank/publish", url.Values{"revision": {sb.br.revision()}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		require.Contains(t, sb.br.get("/flows/blank").body, "Published version 1. Warning: 2 required target fields not mapped (main: ref, main: items).")
	})

	t.Run("the API's answer to publishing lists the warnings", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.save(t, "save", url.Values{"f:/routes/0/targetSchema": {refSchema}})
		sb.br.get("/flows/blank")
		rev, err := strconv.Atoi(sb.br.revision())
		require.NoError(t, err)
		res, out := sb.br.api(http.MethodPost, "/api/v1/flows/blank/publish", map[string]any{"revision": rev})
		require.Equal(t, http.StatusCreated, res.StatusCode, res.body)
		ws, _ := out["warnings"].([]any)
		require.Len(t, ws, 2)
		first, _ := ws[0].(map[string]any)
		require.Equal(t, "ref", first["target"])
		require.Equal(t, "/routes/0/targetSchema", first["pointer"])
	})

	t.Run("a route set to refuse makes them problems that stop publishing", func(t *testing.T) {
		t.Parallel()
		sb := setupStructure(t)
		sb.save(t, "save", url.Values{"f:/routes/0/targetSchema": {refSchema}, "f:/routes/0/unmappedRequired": {"error"}})
		require.Equal(t, engine.UnmappedError, sb.draft(t).Routes[0].UnmappedRequired)
		sb.br.get("/flows/blank")
		res := sb.br.post("/flows/blank/publish", url.Values{"revision": {sb.br.revision()}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, html.UnescapeString(res.body), "required target field ref is not mapped")
		// Back to warnings: the setting's empty choice removes it.
		sb.save(t, "save", url.Values{"f:/routes/0/unmappedRequired": {""}})
		require.Empty(t, sb.draft(t).Routes[0].UnmappedRequired)
	})
}

package mappings_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/mappings"
)

const pickSchema = `{"type":"object","required":["reference","items"],"properties":{
	"reference":{"type":"string"},
	"customer":{"type":"object","properties":{"email":{"type":"string"}}},
	"items":{"type":"array","items":{"type":"object","required":["material","qty"],"properties":{"material":{"type":"string"},"qty":{"type":"integer"}}}}}}`

func pickDef(rows ...engine.Row) *engine.Definition {
	if rows == nil {
		rows = []engine.Row{}
	}
	return &engine.Definition{
		FormatVersion: 1, Name: "pick",
		Source:  engine.Source{System: "s", Event: "e"},
		Targets: []engine.Target{{Name: "t", Kind: engine.TargetCapture}},
		Routes:  []engine.Route{{Name: "r", Target: "t", Mapping: rows, TargetSchema: json.RawMessage(pickSchema)}},
	}
}

func rowsJSON(t *testing.T, def *engine.Definition) string {
	t.Helper()
	b, err := json.Marshal(def.Routes[0].Mapping)
	require.NoError(t, err)
	return string(b)
}

func TestMapField(t *testing.T) {
	t.Parallel()

	t.Run("a new top-level row", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.MapField(pickDef(), "/routes/0", "source.id", "reference")
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"reference","expr":"source.id"}]`, rowsJSON(t, out))
	})

	t.Run("a nested path without an object row is one dotted row", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.MapField(pickDef(), "/routes/0", "source.customer.email", "customer.email")
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"customer.email","expr":"source.customer.email"}]`, rowsJSON(t, out))
	})

	t.Run("an existing row takes the new source, a constant becomes an expression", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.MapField(pickDef(engine.Row{Target: "reference", Value: json.RawMessage(`"x"`), Note: "kept"}), "/routes/0", "source.id", "reference")
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"reference","expr":"source.id","note":"kept"}]`, rowsJSON(t, out))
	})

	t.Run("inside an object row the row goes among its children", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.MapField(pickDef(engine.Row{Target: "customer", Rows: []engine.Row{{Target: "name", Expr: "1"}}}), "/routes/0", "source.email", "customer.email")
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"customer","rows":[{"target":"name","expr":"1"},{"target":"email","expr":"source.email"}]}]`, rowsJSON(t, out))
	})

	t.Run("an item field reads through the for-each's item name", func(t *testing.T) {
		t.Parallel()
		def := pickDef(engine.Row{Target: "items", ForEach: "source.lines", As: "line", Rows: []engine.Row{{Target: "material", Expr: "nil"}}})
		out, err := mappings.MapField(def, "/routes/0", "source.lines[].sku", "items[].material")
		require.NoError(t, err)
		out, err = mappings.MapField(out, "/routes/0", "source.lines[].quantity", "items[].qty")
		require.NoError(t, err)
		out, err = mappings.MapField(out, "/routes/0", "source.id", "items[].ref")
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"items","forEach":"source.lines","as":"line","rows":[
			{"target":"material","expr":"line.sku"},{"target":"qty","expr":"line.quantity"},{"target":"ref","expr":"source.id"}]}]`, rowsJSON(t, out))
	})

	t.Run("names that are not identifiers are read with brackets", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.MapField(pickDef(), "/routes/0", "source.first-name", "reference")
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"reference","expr":"source[\"first-name\"]"}]`, rowsJSON(t, out))
	})

	t.Run("no source makes a placeholder", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.MapField(pickDef(), "/routes/0", "", "reference")
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"reference","expr":"nil"}]`, rowsJSON(t, out))
	})

	bad := []struct{ name, source, target, want string }{
		{"an item field without a for-each", "source.lines[].sku", "items[].material", "items[].material is a field of each item of the list items: first pick a source list and “map each” onto items"},
		{"a source item field outside its for-each", "source.lines[].sku", "reference", "source.lines[].sku is a field of each item of source.lines: first use “map each” from source.lines onto a list in the destination"},
		{"a source that is not a source path", "order.id", "reference", "“order.id” is not a source path"},
		{"a destination that is not a path", "source.id", "items..x", "“items..x” is not a destination path"},
		{"no destination", "source.id", "", "choose a destination field"},
		{"items of a list as the source", "source.lines[]", "reference", "source.lines[] are the items of a list"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := mappings.MapField(pickDef(), "/routes/0", tc.source, tc.target)
			require.ErrorContains(t, err, tc.want)
		})
	}

	t.Run("a field inside a row that makes a whole value", func(t *testing.T) {
		t.Parallel()
		_, err := mappings.MapField(pickDef(engine.Row{Target: "customer", Expr: "source.customer"}), "/routes/0", "source.email", "customer.email")
		require.ErrorContains(t, err, "customer.email is inside customer, which row /routes/0/mapping/0 makes as one value")
	})

	t.Run("a for-each is not a field", func(t *testing.T) {
		t.Parallel()
		_, err := mappings.MapField(pickDef(engine.Row{Target: "items", ForEach: "source.lines", Rows: []engine.Row{{Target: "a", Expr: "1"}}}), "/routes/0", "source.id", "items")
		require.ErrorContains(t, err, "items is made by a for-each of child rows; pick a field inside it")
	})

	t.Run("a route that is not there", func(t *testing.T) {
		t.Parallel()
		_, err := mappings.MapField(pickDef(), "/routes/3", "source.id", "reference")
		require.ErrorContains(t, err, "/routes/3 does not name a place among the routes")
	})
}

func TestMapEach(t *testing.T) {
	t.Parallel()

	t.Run("a new for-each with rows for the fields both items have", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.MapEach(pickDef(), "/routes/0", "source.lines", "items", []string{"qty", "sku"})
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"items","forEach":"source.lines","as":"line","rows":[{"target":"qty","expr":"line.qty"}]}]`, rowsJSON(t, out))
		_, err = engine.Compile(out, engine.Options{})
		require.NoError(t, err)
	})

	t.Run("with no field in common it starts with the first required one", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.MapEach(pickDef(), "/routes/0", "source.lines", "items", []string{"sku"})
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"items","forEach":"source.lines","as":"line","rows":[{"target":"material","expr":"nil"}]}]`, rowsJSON(t, out))
	})

	t.Run("an existing for-each takes the new list", func(t *testing.T) {
		t.Parallel()
		def := pickDef(engine.Row{Target: "items", ForEach: "[]", As: "item", Rows: []engine.Row{{Target: "material", Expr: "item"}}})
		out, err := mappings.MapEach(def, "/routes/0", "source.lines", "items", nil)
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"items","forEach":"source.lines","as":"item","rows":[{"target":"material","expr":"item"}]}]`, rowsJSON(t, out))
	})

	t.Run("a nested list reads through the outer item", func(t *testing.T) {
		t.Parallel()
		def := pickDef(engine.Row{Target: "orders", ForEach: "source.orders", As: "order", Rows: []engine.Row{{Target: "id", Expr: "order.id"}}})
		out, err := mappings.MapEach(def, "/routes/0", "source.orders[].lines", "orders[].lines", nil)
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"orders","forEach":"source.orders","as":"order","rows":[{"target":"id","expr":"order.id"},
			{"target":"lines","forEach":"order.lines","as":"line","rows":[{"target":"field","expr":"nil"}]}]}]`, rowsJSON(t, out))
	})

	t.Run("an item name that would shadow a function is item", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.MapEach(pickDef(), "/routes/0", "source.sums", "items", nil)
		require.NoError(t, err)
		require.Equal(t, "item", out.Routes[0].Mapping[0].As)
	})

	t.Run("items rather than lists are refused", func(t *testing.T) {
		t.Parallel()
		_, err := mappings.MapEach(pickDef(), "/routes/0", "source.lines[]", "items", nil)
		require.ErrorContains(t, err, "map each goes from a list to a list")
	})

	t.Run("no source list makes a placeholder for-each", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.MapEach(pickDef(), "/routes/0", "", "items", nil)
		require.NoError(t, err)
		require.JSONEq(t, `[{"target":"items","forEach":"[]","as":"item","rows":[{"target":"material","expr":"nil"}]}]`, rowsJSON(t, out))
		_, err = engine.Compile(out, engine.Options{})
		require.NoError(t, err)
	})
}

func TestWithInferredTargetSchema(t *testing.T) {
	t.Parallel()

	t.Run("from an example output", func(t *testing.T) {
		t.Parallel()
		out, err := mappings.WithInferredTargetSchema(pickDef(), "/routes/0", json.RawMessage(`{"orderType":"ZWEB","total":48.48,"items":[{"material":"A"}]}`))
		require.NoError(t, err)
		fields, err := engine.TargetTree(out.Routes[0].TargetSchema, nil, "/routes/0/mapping", nil)
		require.NoError(t, err)
		var paths []string
		for _, f := range fields {
			paths = append(paths, f.Path)
		}
		require.ElementsMatch(t, []string{"orderType", "total", "items", "items[].material"}, paths)
	})

	for _, tc := range []struct{ name, example, want string }{
		{"empty", " ", "paste an example output (JSON) of route r first"},
		{"not JSON", `{"a":`, "the example output is not valid JSON"},
		{"not an object", `[1]`, "the example output must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := mappings.WithInferredTargetSchema(pickDef(), "/routes/0", json.RawMessage(tc.example))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

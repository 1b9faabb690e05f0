package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
)

// orderSchema is an ERP sales order: required orderType, customer.email
// (customer itself optional) and items with required material and a
// quantity that is a whole number; amount has two decimal places.
const orderSchema = `{
	"type": "object",
	"required": ["orderType", "items", "total"],
	"properties": {
		"orderType": {"type": "string"},
		"customer": {"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}, "name": {"type": "string"}}},
		"items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
		"total": {"type": "number", "multipleOf": 0.01},
		"code": {"type": "string", "pattern": "^[A-Z]{3}$"}
	},
	"$defs": {"item": {"type": "object", "required": ["material", "quantity"], "properties": {"material": {"type": "string"}, "quantity": {"type": "integer"}}}}
}`

func fieldsByPath(t *testing.T, schema string, rows []engine.Row, output string) map[string]engine.TargetField {
	t.Helper()
	var out json.RawMessage
	if output != "" {
		out = json.RawMessage(output)
	}
	fields, err := engine.TargetTree(json.RawMessage(schema), rows, "/routes/0/mapping", out)
	require.NoError(t, err)
	m := map[string]engine.TargetField{}
	for _, f := range fields {
		m[f.Path] = f
	}
	return m
}

func unmappedPaths(t *testing.T, schema string, rows []engine.Row) []string {
	t.Helper()
	fields, err := engine.TargetTree(json.RawMessage(schema), rows, "/routes/0/mapping", nil)
	require.NoError(t, err)
	var out []string
	for _, f := range fields {
		if f.Unmapped() {
			out = append(out, f.Path)
		}
	}
	return out
}

func TestTargetTree(t *testing.T) {
	t.Parallel()

	t.Run("lists the schema's fields in its order", func(t *testing.T) {
		t.Parallel()
		fields, err := engine.TargetTree(json.RawMessage(orderSchema), nil, "/routes/0/mapping", nil)
		require.NoError(t, err)
		var paths []string
		for _, f := range fields {
			paths = append(paths, f.Path)
		}
		require.Equal(t, []string{"orderType", "customer", "customer.email", "customer.name", "items", "items[].material", "items[].quantity", "total", "code"}, paths)
		require.Equal(t, 1, fields[2].Depth)
		require.True(t, fields[4].Array)
	})

	t.Run("with no rows the required top-level fields are unmapped", func(t *testing.T) {
		t.Parallel()
		// customer is optional, so its required email is not expected; the
		// items' fields are expected only once a for-each makes the items.
		require.Equal(t, []string{"orderType", "items", "total"}, unmappedPaths(t, orderSchema, nil))
	})

	t.Run("rows map fields, a for-each makes its items' fields expected", func(t *testing.T) {
		t.Parallel()
		rows := []engine.Row{
			{Target: "orderType", Value: json.RawMessage(`"ZWEB"`)},
			{Target: "items", ForEach: "source.lines", As: "line", Rows: []engine.Row{{Target: "material", Expr: "line.sku"}}},
		}
		require.Equal(t, []string{"items[].quantity", "total"}, unmappedPaths(t, orderSchema, rows))
		m := fieldsByPath(t, orderSchema, rows, "")
		require.Equal(t, "/routes/0/mapping/1", m["items"].Row)
		require.True(t, m["items"].ForEach)
		require.Equal(t, "/routes/0/mapping/1/rows/0", m["items[].material"].Row)
	})

	t.Run("a row of an optional object's field makes its required fields expected", func(t *testing.T) {
		t.Parallel()
		rows := []engine.Row{{Target: "customer.name", Expr: "source.name"}}
		require.Contains(t, unmappedPaths(t, orderSchema, rows), "customer.email")
		m := fieldsByPath(t, orderSchema, rows, "")
		require.True(t, m["customer"].Mapped, "rows inside it map it")
		require.Empty(t, m["customer"].Row)
	})

	t.Run("a required object is unmapped itself only when it declares no fields", func(t *testing.T) {
		t.Parallel()
		schema := `{"type":"object","required":["meta","ship"],"properties":{"meta":{"type":"object"},"ship":{"type":"object","required":["city"],"properties":{"city":{"type":"string"}}}}}`
		require.Equal(t, []string{"meta", "ship.city"}, unmappedPaths(t, schema, nil))
		require.Empty(t, unmappedPaths(t, schema, []engine.Row{{Target: "meta", Expr: "{}"}, {Target: "ship.city", Expr: "source.city"}}))
	})

	t.Run("a whole value maps everything inside it", func(t *testing.T) {
		t.Parallel()
		rows := []engine.Row{{Target: "customer", Expr: "source.customer"}}
		m := fieldsByPath(t, orderSchema, rows, "")
		require.True(t, m["customer.email"].Mapped)
		require.Equal(t, "/routes/0/mapping/0", m["customer.email"].Row)
	})

	t.Run("object rows nest paths", func(t *testing.T) {
		t.Parallel()
		rows := []engine.Row{{Target: "customer", Rows: []engine.Row{{Target: "email", Expr: "source.email"}}}}
		m := fieldsByPath(t, orderSchema, rows, "")
		require.Equal(t, "/routes/0/mapping/0/rows/0", m["customer.email"].Row)
		require.NotContains(t, unmappedPaths(t, orderSchema, rows), "customer.email")
	})

	t.Run("fields the schema lacks are listed as not in it", func(t *testing.T) {
		t.Parallel()
		rows := []engine.Row{{Target: "ordertype", Expr: "1"}}
		m := fieldsByPath(t, orderSchema, rows, "")
		require.False(t, m["ordertype"].InSchema)
		require.True(t, m["ordertype"].Mapped)
		require.True(t, m["orderType"].InSchema)
	})

	t.Run("without a schema the fields are the rows'", func(t *testing.T) {
		t.Parallel()
		rows := []engine.Row{{Target: "a", Expr: "1"}, {Target: "lines", ForEach: "source.l", Rows: []engine.Row{{Target: "b", Expr: "2"}}}}
		fields, err := engine.TargetTree(nil, rows, "/routes/0/mapping", nil)
		require.NoError(t, err)
		require.Len(t, fields, 3)
		require.Equal(t, "lines[].b", fields[2].Path)
		require.True(t, fields[1].Array)
	})

	t.Run("type mismatches in the output", func(t *testing.T) {
		t.Parallel()
		out := `{"orderType": 7, "items": [{"material": "A", "quantity": 2}, {"material": "B", "quantity": "3"}], "total": "48.48"}`
		m := fieldsByPath(t, orderSchema, nil, out)
		require.Equal(t, "7 is a whole number; the schema wants text", m["orderType"].Mismatch)
		require.Equal(t, `items[1].quantity: "3" is text; the schema wants a whole number`, m["items[].quantity"].Mismatch)
		require.Equal(t, `"48.48" is text; the schema wants a number`, m["total"].Mismatch)
		require.Empty(t, m["items[].material"].Mismatch)
	})

	t.Run("decimal places and patterns", func(t *testing.T) {
		t.Parallel()
		m := fieldsByPath(t, orderSchema, nil, `{"total": 48.485, "code": "eur"}`)
		require.Equal(t, "48.485 is not a multiple of 0.01 (the schema's decimal places)", m["total"].Mismatch)
		require.Equal(t, `"eur" does not match the schema's pattern ^[A-Z]{3}$`, m["code"].Mismatch)
		m = fieldsByPath(t, orderSchema, nil, `{"total": 48.48, "code": "EUR"}`)
		require.Empty(t, m["total"].Mismatch)
		require.Empty(t, m["code"].Mismatch)
	})

	t.Run("a whole number fits number, 2.0 fits integer", func(t *testing.T) {
		t.Parallel()
		m := fieldsByPath(t, orderSchema, nil, `{"total": 48, "items": [{"quantity": 2.0}]}`)
		require.Empty(t, m["total"].Mismatch)
		require.Empty(t, m["items[].quantity"].Mismatch)
	})

	t.Run("a schema that is not JSON is an error", func(t *testing.T) {
		t.Parallel()
		_, err := engine.TargetTree(json.RawMessage(`{"type":`), nil, "/routes/0/mapping", nil)
		require.ErrorContains(t, err, "the target schema is not valid JSON")
	})

	t.Run("a schema over the limits is an error, not a walk", func(t *testing.T) {
		t.Parallel()
		deep := strings.Repeat(`{"properties":{"a":`, 40) + `{}` + strings.Repeat(`}}`, 40)
		_, err := engine.TargetTree(json.RawMessage(deep), nil, "/routes/0/mapping", nil)
		require.ErrorContains(t, err, "over the limits")
	})

	t.Run("a reference cycle ends", func(t *testing.T) {
		t.Parallel()
		cyc := `{"type":"object","properties":{"node":{"$ref":"#"}}}`
		fields, err := engine.TargetTree(json.RawMessage(cyc), nil, "/routes/0/mapping", nil)
		require.NoError(t, err)
		require.LessOrEqual(t, len(fields), engine.MaxTargetFields)
	})
}

func targetDef(schema, mode string) *engine.Definition {
	def := limitDef("", "1")
	def.Routes[0].TargetSchema = json.RawMessage(schema)
	def.Routes[0].UnmappedRequired = mode
	return def
}

func TestTargetSchemaInDefinitions(t *testing.T) {
	t.Parallel()
	schema := `{"type":"object","required":["a","c"],"properties":{"a":{"type":"string"},"c":{"type":"string"}}}`

	t.Run("unmapped required fields are warnings by default", func(t *testing.T) {
		t.Parallel()
		def := targetDef(schema, "")
		_, err := engine.Compile(def, engine.Options{})
		require.NoError(t, err)
		ds := engine.UnmappedRequired(def)
		require.Len(t, ds, 1)
		require.Equal(t, "/routes/0/targetSchema", ds[0].Pointer)
		require.Equal(t, "c", ds[0].Target)
		require.Equal(t, `route "r" c (/routes/0/targetSchema): required target field c is not mapped; add a row for it`, ds[0].String())
	})

	t.Run("unmappedRequired error makes them problems", func(t *testing.T) {
		t.Parallel()
		_, err := engine.Compile(targetDef(schema, engine.UnmappedError), engine.Options{})
		ds := diagnostics(t, err)
		require.Len(t, ds, 1)
		require.Contains(t, ds[0].Message, `required target field c is not mapped; add a row for it (the route sets unmappedRequired to "error")`)
	})

	t.Run("the lenient compile reports them and still runs", func(t *testing.T) {
		t.Parallel()
		prog, ds := engine.CompileLenient(targetDef(schema, engine.UnmappedError), engine.Options{})
		require.NotNil(t, prog)
		require.Len(t, ds, 1)
	})

	t.Run("a target schema that is not a JSON Schema is a problem", func(t *testing.T) {
		t.Parallel()
		_, err := engine.Compile(targetDef(`{"type": 12}`, ""), engine.Options{})
		ds := diagnostics(t, err)
		require.Equal(t, "/routes/0/targetSchema", ds[0].Pointer)
		require.Contains(t, ds[0].Message, "target schema is not a valid JSON Schema")
	})

	t.Run("the definition schema accepts both fields and checks the setting", func(t *testing.T) {
		t.Parallel()
		raw, err := targetDef(schema, engine.UnmappedError).Canonical()
		require.NoError(t, err)
		_, err = engine.ParseDefinition(raw)
		require.NoError(t, err)
		bad := strings.Replace(string(raw), `"unmappedRequired":"error"`, `"unmappedRequired":"fail"`, 1)
		_, err = engine.ParseDefinition([]byte(bad))
		ds := diagnostics(t, err)
		require.Equal(t, "/routes/0/unmappedRequired", ds[0].Pointer)
	})

	t.Run("a target schema over the size limit is refused before parsing", func(t *testing.T) {
		t.Parallel()
		big := `{"description":"` + strings.Repeat("x", engine.MaxSchemaBytes) + `"}`
		ds := diagnostics(t, engine.CheckLimits(targetDef(big, "")))
		require.Equal(t, "/routes/0/targetSchema", ds[0].Pointer)
		require.Contains(t, ds[0].Message, `route "r"'s target schema is 262,162 bytes; at most 262,144 are allowed`)
	})

	t.Run("a schema nested too deeply is refused before parsing", func(t *testing.T) {
		t.Parallel()
		deep := strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70)
		ds := diagnostics(t, engine.CheckLimits(targetDef(deep, "")))
		require.Contains(t, ds[0].Message, "nests 70 levels deep; at most 64 are allowed")
		def := limitDef("", "1")
		def.Source.Schema = json.RawMessage(deep)
		ds = diagnostics(t, engine.CheckLimits(def))
		require.Equal(t, "/source/schema", ds[0].Pointer)
		require.Contains(t, ds[0].Message, "the source schema nests 70 levels deep")
	})
}

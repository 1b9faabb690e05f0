package mappings_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

// blank is the definition a flow from scratch starts with.
func blank(t *testing.T) *engine.Definition {
	t.Helper()
	return mappings.BlankDefinition("x", "", "")
}

func TestAddRowKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind mappings.RowKind
		want engine.Row
	}{
		{mappings.RowValue, engine.Row{Target: "newField", Expr: "nil"}},
		{mappings.RowConstant, engine.Row{Target: "constant", Value: json.RawMessage(`""`)}},
		{mappings.RowObject, engine.Row{Target: "newObject", Rows: []engine.Row{{Target: "field", Expr: "nil"}}}},
		{mappings.RowForEach, engine.Row{Target: "items", ForEach: "[]", As: "item", Rows: []engine.Row{{Target: "field", Expr: "item"}}}},
		{mappings.RowArray, engine.Row{Target: "values", ForEach: "[]", As: "item", Expr: "item"}},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			def := blank(t)
			got, err := mappings.AddRow(def, "/routes/0/mapping/1", tc.kind)
			require.NoError(t, err)
			require.Len(t, got.Routes[0].Mapping, 2)
			require.Equal(t, tc.want, got.Routes[0].Mapping[1])
			require.Len(t, def.Routes[0].Mapping, 1, "the input is not modified")
			require.Nil(t, mappings.Check(got), "a new %s row compiles", tc.kind)

			// A second one at the top gets a name of its own.
			again, err := mappings.AddRow(got, "/routes/0/mapping/0", tc.kind)
			require.NoError(t, err)
			require.Equal(t, tc.want.Target+"2", again.Routes[0].Mapping[0].Target)
			require.Nil(t, mappings.Check(again))
		})
	}
}

func TestAddRowNested(t *testing.T) {
	t.Parallel()
	def, err := mappings.AddRow(blank(t), "/routes/0/mapping/1", mappings.RowForEach)
	require.NoError(t, err)
	// Two child rows in the for-each, a nested for-each whose item name
	// does not shadow the outer one, and an object inside an object.
	def, err = mappings.AddRow(def, "/routes/0/mapping/1/rows/1", mappings.RowValue)
	require.NoError(t, err)
	def, err = mappings.AddRow(def, "/routes/0/mapping/1/rows/2", mappings.RowForEach)
	require.NoError(t, err)
	def, err = mappings.AddRow(def, "/routes/0/mapping/0", mappings.RowObject)
	require.NoError(t, err)
	def, err = mappings.AddRow(def, "/routes/0/mapping/0/rows/0", mappings.RowObject)
	require.NoError(t, err)

	items := def.Routes[0].Mapping[2]
	require.Equal(t, "items", items.Target)
	require.Len(t, items.Rows, 3)
	require.Equal(t, "newField", items.Rows[1].Target)
	require.Equal(t, "item2", items.Rows[2].As, "a nested for-each does not shadow the outer item")
	require.Equal(t, "newObject", def.Routes[0].Mapping[0].Rows[0].Target)
	require.Nil(t, mappings.Check(def))
}

func TestAddRowRefusesBadPlaces(t *testing.T) {
	t.Parallel()
	def := blank(t)
	for _, tc := range []struct{ pointer, says string }{
		{"routes/0/mapping/0", "is not a JSON pointer"},
		{"/validation/0", "not a place in a mapping"},
		{"/routes/0", "not a place in a mapping"},
		{"/routes/3/mapping/0", "has no route 3"},
		{"/routes/0/mapping/5", "/routes/0/mapping has 1 rows"},
		{"/routes/0/mapping/x", "“x” is not a position"},
		{"/routes/0/mapping/0/rows/0", "has a value of its own; only object and for-each rows hold child rows"},
		{"/routes/0/mapping/4/rows/0", "has no row 4"},
		{"/routes/0/mapping/0/expr/0", "not a place in a mapping"},
	} {
		_, err := mappings.AddRow(def, tc.pointer, mappings.RowValue)
		require.Equal(t, fault.Invalid, fault.CodeOf(err), tc.pointer)
		require.Contains(t, err.Error(), tc.says, tc.pointer)
	}
	_, err := mappings.AddRow(def, "/routes/0/mapping/0", "table")
	require.ErrorContains(t, err, "unknown row kind")
}

func TestRoutesAndTargets(t *testing.T) {
	t.Parallel()
	def := blank(t)
	withTarget, err := mappings.AddTarget(def, "/targets/1")
	require.NoError(t, err)
	require.Equal(t, engine.Target{Name: "target-2", Kind: engine.TargetCapture}, withTarget.Targets[1])

	two, err := mappings.AddRoute(withTarget, "/routes/1")
	require.NoError(t, err)
	require.Len(t, two.Routes, 2)
	require.Equal(t, "route-2", two.Routes[1].Name)
	require.Equal(t, "capture", two.Routes[1].Target, "a new route goes to the first target")
	require.Nil(t, mappings.Check(two))

	dup, err := mappings.DuplicateRoute(two, "/routes/0")
	require.NoError(t, err)
	require.Len(t, dup.Routes, 3)
	require.Equal(t, "main-copy", dup.Routes[1].Name)
	require.Equal(t, two.Routes[0].Mapping, dup.Routes[1].Mapping)
	require.Equal(t, "route-2", dup.Routes[2].Name)
	dup, err = mappings.DuplicateRoute(dup, "/routes/0")
	require.NoError(t, err)
	require.Equal(t, "main-copy2", dup.Routes[1].Name)
	require.Nil(t, mappings.Check(dup))

	// Without targets, a new route brings a capture target along.
	none := blank(t)
	none.Targets = nil
	none.Routes[0].Target = ""
	got, err := mappings.AddRoute(none, "/routes/0")
	require.NoError(t, err)
	require.Equal(t, []engine.Target{{Name: "capture", Kind: engine.TargetCapture}}, got.Targets)
	require.Equal(t, "capture", got.Routes[0].Target)

	for _, tc := range []struct {
		op      func(*engine.Definition, string) (*engine.Definition, error)
		pointer string
		says    string
	}{
		{mappings.AddRoute, "/routes/5", "use /routes/0 to /routes/1"},
		{mappings.AddRoute, "/targets/0", "does not name a place among the routes"},
		{mappings.DuplicateRoute, "/routes/1", "use /routes/0 to /routes/0"},
		{mappings.DuplicateRoute, "/routes/0/mapping", "does not name a place among the routes"},
		{mappings.AddTarget, "/targets/-1", "use /targets/0 to /targets/1"},
		{mappings.AddTarget, "", "is not a JSON pointer"},
	} {
		_, err := tc.op(def, tc.pointer)
		require.Equal(t, fault.Invalid, fault.CodeOf(err), tc.pointer)
		require.Contains(t, err.Error(), tc.says, tc.pointer)
	}
}

func TestOmitNullIsACheckbox(t *testing.T) {
	t.Parallel()
	def := blank(t)
	got, err := mappings.ApplyEdits(def, []mappings.Edit{{Pointer: "/routes/0/mapping/0/omitNull", Value: "false"}, {Pointer: "/routes/0/mapping/0/omitNull", Value: "true"}})
	require.NoError(t, err)
	require.True(t, got.Routes[0].Mapping[0].OmitNull)
	got, err = mappings.ApplyEdits(got, []mappings.Edit{{Pointer: "/routes/0/mapping/0/omitNull", Value: "false"}})
	require.NoError(t, err)
	require.False(t, got.Routes[0].Mapping[0].OmitNull)
	_, err = mappings.ApplyEdits(got, []mappings.Edit{{Pointer: "/routes/0/mapping/0/omitNull", Value: "yes"}})
	require.ErrorContains(t, err, "must be true or false")
}

func TestConstantWithBadJSONNamesTheField(t *testing.T) {
	t.Parallel()
	def, err := mappings.AddRow(blank(t), "/routes/0/mapping/1", mappings.RowConstant)
	require.NoError(t, err)
	got, err := mappings.ApplyEdits(def, []mappings.Edit{{Pointer: "/routes/0/mapping/1/value", Value: `{"type": "ZWEB", "lines": [1, 2.50]}`}})
	require.NoError(t, err)
	require.JSONEq(t, `{"type": "ZWEB", "lines": [1, 2.50]}`, string(got.Routes[0].Mapping[1].Value))
	_, err = mappings.ApplyEdits(def, []mappings.Edit{{Pointer: "/routes/0/mapping/1/value", Value: `ZWEB`}})
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	require.Contains(t, err.Error(), "/routes/0/mapping/1/value is not valid JSON")
	require.Contains(t, err.Error(), "text goes in double quotes")
	fe, _ := fault.As(err)
	require.Contains(t, fe.Fields, "/routes/0/mapping/1/value")
}

func TestInferSchema(t *testing.T) {
	t.Parallel()
	samples := []engine.Sample{
		{Name: "a", Payload: json.RawMessage(`{"id": 1, "email": "a@b.c", "total": "9.90", "lines": [{"sku": "x", "qty": 1}, {"sku": "y", "qty": 2.5, "gift": true}], "tags": [], "ship": {"city": "Berlin"}}`)},
		{Name: "b", Payload: json.RawMessage(`{"id": 2, "email": null, "total": "1.00", "lines": [{"sku": "z", "qty": 3}], "tags": []}`)},
	}
	got, err := mappings.InferSchema(samples)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type": "object",
		"required": ["email", "id", "lines", "tags", "total"],
		"properties": {
			"id": {"type": "integer"},
			"email": {"type": ["string", "null"]},
			"total": {"type": "string"},
			"lines": {"type": "array", "items": {
				"type": "object",
				"required": ["qty", "sku"],
				"properties": {"sku": {"type": "string"}, "qty": {"type": "number"}, "gift": {"type": "boolean"}}
			}},
			"tags": {"type": "array"},
			"ship": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
		}
	}`, string(got))

	// The inferred schema is one the engine compiles against, and it
	// catches a misspelt field.
	def := blank(t)
	def.Source.Samples = samples
	def.Keys = engine.Keys{Idempotency: "string(source.id)"}
	def.Routes[0].Mapping = []engine.Row{{Target: "n", Expr: "source.id"}}
	withSchema, err := mappings.WithInferredSchema(def)
	require.NoError(t, err)
	require.Empty(t, def.Source.Schema, "the input is not modified")
	require.Nil(t, mappings.Check(withSchema))
	withSchema.Routes[0].Mapping[0].Expr = "source.idd"
	require.ErrorContains(t, mappings.Check(withSchema), `unknown field "idd"`)

	_, err = mappings.InferSchema(nil)
	require.ErrorContains(t, err, "no samples")
	_, err = mappings.InferSchema([]engine.Sample{{Name: "bad", Payload: json.RawMessage(`{`)}})
	require.ErrorContains(t, err, "sample “bad” is not valid JSON")
}

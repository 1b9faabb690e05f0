package mappings_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

func TestApplyEdits(t *testing.T) {
	t.Parallel()
	def := storefront(t)
	before := def.Routes[0].Mapping[1].Expr

	got, err := mappings.ApplyEdits(def, []mappings.Edit{
		{Pointer: "/routes/0/mapping/0/expr", Value: `upper(source.name)`},
		{Pointer: "/routes/0/when", Value: ""},
		{Pointer: "/validation/0/message", Value: "changed"},
		{Pointer: "/source/samples/0/payload", Value: `{"id": 12345678901234567890}`},
	})
	require.NoError(t, err)
	require.Equal(t, `upper(source.name)`, got.Routes[0].Mapping[0].Expr)
	require.Empty(t, got.Routes[0].When, "an emptied condition means always")
	require.Equal(t, "changed", got.Validation[0].Message)
	require.JSONEq(t, `{"id": 12345678901234567890}`, string(got.Source.Samples[0].Payload), "big numbers keep their digits")
	require.Equal(t, before, got.Routes[0].Mapping[1].Expr, "other rows untouched")
	require.NotEqual(t, got.Routes[0].Mapping[0].Expr, def.Routes[0].Mapping[0].Expr, "the input is not modified")

	_, err = mappings.ApplyEdits(def, []mappings.Edit{{Pointer: "/source/samples/0/payload", Value: `{"id": `}})
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	require.Contains(t, err.Error(), "/source/samples/0/payload is not valid JSON")
	_, err = mappings.ApplyEdits(def, []mappings.Edit{{Pointer: "/routes/99/when", Value: "true"}})
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	_, err = mappings.ApplyEdits(def, []mappings.Edit{{Pointer: "routes", Value: "x"}})
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
}

func TestStructuralEdits(t *testing.T) {
	t.Parallel()
	def := storefront(t)
	n := len(def.Routes[0].Mapping)
	first, second := def.Routes[0].Mapping[0].Target, def.Routes[0].Mapping[1].Target

	added, err := mappings.InsertAt(def, "/routes/0/mapping/1", engine.Row{Target: "newField", Expr: "1"})
	require.NoError(t, err)
	require.Len(t, added.Routes[0].Mapping, n+1)
	require.Equal(t, "newField", added.Routes[0].Mapping[1].Target)
	appended, err := mappings.InsertAt(def, "/routes/0/mapping/"+strconv.Itoa(n), engine.Row{Target: "last", Expr: "1"})
	require.NoError(t, err)
	require.Equal(t, "last", appended.Routes[0].Mapping[n].Target)
	_, err = mappings.InsertAt(def, "/routes/0/mapping/999", engine.Row{Target: "x"})
	require.Equal(t, fault.Invalid, fault.CodeOf(err))

	moved, err := mappings.Move(def, "/routes/0/mapping/1", -1)
	require.NoError(t, err)
	require.Equal(t, second, moved.Routes[0].Mapping[0].Target)
	require.Equal(t, first, moved.Routes[0].Mapping[1].Target)
	same, err := mappings.Move(def, "/routes/0/mapping/0", -1)
	require.NoError(t, err)
	require.Equal(t, first, same.Routes[0].Mapping[0].Target, "moving past the top does nothing")

	removed, err := mappings.RemoveAt(def, "/routes/0/mapping/0")
	require.NoError(t, err)
	require.Len(t, removed.Routes[0].Mapping, n-1)
	require.Equal(t, second, removed.Routes[0].Mapping[0].Target)
	_, err = mappings.RemoveAt(def, "/routes/0/mapping/name")
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
}

func TestChannelAndSLAEdits(t *testing.T) {
	t.Parallel()
	def := storefront(t)
	got, err := mappings.ApplyEdits(def, []mappings.Edit{
		{Pointer: "/keys/channel", Value: `source.source_name`},
		{Pointer: "/sla/withinSeconds", Value: "120"},
		{Pointer: "/sla/objectivePercent", Value: " 99.5 "},
	})
	require.NoError(t, err)
	require.Equal(t, "source.source_name", got.Keys.Channel)
	require.Equal(t, &engine.SLA{WithinSeconds: 120, ObjectivePercent: 99.5}, got.SLA)

	// Clearing both fields returns the flow to the default SLA rather than
	// an SLA of zero seconds; clearing the channel removes it.
	cleared, err := mappings.ApplyEdits(got, []mappings.Edit{
		{Pointer: "/keys/channel", Value: ""},
		{Pointer: "/sla/withinSeconds", Value: ""},
		{Pointer: "/sla/objectivePercent", Value: ""},
	})
	require.NoError(t, err)
	require.Empty(t, cleared.Keys.Channel)
	require.Nil(t, cleared.SLA)

	for _, bad := range []struct{ pointer, value, says string }{
		{"/sla/withinSeconds", "sixty", "must be a whole number of seconds"},
		{"/sla/withinSeconds", "1.5", "must be a whole number of seconds"},
		{"/sla/objectivePercent", "NaN", "must be a percentage"},
		{"/sla/objectivePercent", "1e400", "must be a percentage"},
		{"/sla/objectivePercent", `"99"`, "must be a percentage"},
	} {
		_, err := mappings.ApplyEdits(def, []mappings.Edit{{Pointer: bad.pointer, Value: bad.value}})
		require.Equal(t, fault.Invalid, fault.CodeOf(err), "%s = %s", bad.pointer, bad.value)
		require.Contains(t, err.Error(), bad.says)
	}
}

func TestEditsKeepTheSpellingOfJSONValues(t *testing.T) {
	t.Parallel()
	def, err := engine.ParseDefinition([]byte(`{
	  "formatVersion": 1, "name": "spelling",
	  "source": {"system": "s", "event": "e",
	    "schema": {"type": "object", "required": ["z", "a"], "properties": {"z": {"type": "string"}, "a": {"type": "integer"}}},
	    "samples": [{"name": "one", "payload": {"z": "last", "a": 1}}]},
	  "lookups": {"plant": {"entries": {"tee": {"z": 1, "a": 2}}}},
	  "targets": [{"name": "t", "kind": "capture"}],
	  "routes": [{"name": "r", "target": "t", "mapping": [
	    {"target": "x", "expr": "source.z"},
	    {"target": "k", "value": {"z": true, "a": false}}]}],
	  "tests": [{"name": "c", "input": {"z": "last", "a": 1}, "expect": {"routes": {"r": {"x": "last", "k": {"z": true, "a": false}}}}}]
	}`))
	require.NoError(t, err)
	canonical := func(d *engine.Definition) string {
		raw, err := d.Canonical()
		require.NoError(t, err)
		return string(raw)
	}
	t.Run("an edit elsewhere leaves every embedded value as written", func(t *testing.T) {
		got, err := mappings.ApplyEdits(def, []mappings.Edit{{Pointer: "/routes/0/mapping/0/expr", Value: "upper(source.z)"}})
		require.NoError(t, err)
		got.Routes[0].Mapping[0].Expr = def.Routes[0].Mapping[0].Expr
		require.Equal(t, canonical(def), canonical(got), "only the edited expression differs, so the checksum does")
	})
	t.Run("a structural operation too", func(t *testing.T) {
		got, err := mappings.InsertAt(def, "/routes/0/mapping/2", engine.Row{Target: "y", Expr: "source.a"})
		require.NoError(t, err)
		got, err = mappings.RemoveAt(got, "/routes/0/mapping/2")
		require.NoError(t, err)
		require.Equal(t, canonical(def), canonical(got))
	})
	t.Run("the same schema typed again keeps its spelling", func(t *testing.T) {
		got, err := mappings.ApplyEdits(def, []mappings.Edit{{Pointer: "/source/schema", Value: `{"properties": {"a": {"type": "integer"}, "z": {"type": "string"}}, "required": ["z", "a"], "type": "object"}`}})
		require.NoError(t, err)
		require.Equal(t, canonical(def), canonical(got))
	})
	t.Run("a changed value is the new value", func(t *testing.T) {
		got, err := mappings.ApplyEdits(def, []mappings.Edit{{Pointer: "/source/samples/0/payload", Value: `{"z": "first", "a": 1}`}})
		require.NoError(t, err)
		require.JSONEq(t, `{"z": "first", "a": 1}`, string(got.Source.Samples[0].Payload))
	})
}

package web

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
)

func TestRowSources(t *testing.T) {
	t.Parallel()
	rows := []engine.Row{
		{Target: "ref", Expr: `"web-" + string(source.id)`},
		{Target: "note", Expr: `source.note ?? source.note`},
		{Target: "quoted", Expr: `"source.fake"`},
		{Target: "city", Expr: "source?.ship?.city"},
		{Target: "items", ForEach: "source.lines", As: "line", Rows: []engine.Row{
			{Target: "sku", Expr: "upper(line.sku)"},
			{Target: "parts", ForEach: "line.parts ?? []", Rows: []engine.Row{{Target: "no", Expr: "item.no + line.qty"}}},
		}},
		{Target: "customer", Rows: []engine.Row{{Target: "email", Expr: "lower(source.email)"}}},
	}
	got := rowSources(rows, "/routes/0/mapping")
	require.Equal(t, []string{"source.id"}, got["ref"])
	require.Equal(t, []string{"source.note", "source.note"}, got["note"])
	require.Empty(t, got["quoted"], "text in string literals is not a path")
	require.Equal(t, []string{"source.ship.city"}, got["city"])
	require.Equal(t, []string{"source.lines"}, got["items"])
	require.Equal(t, []string{"source.lines[].sku"}, got["items[].sku"])
	require.Equal(t, []string{"source.lines[].parts"}, got["items[].parts"])
	require.Equal(t, []string{"source.lines[].parts[].no", "source.lines[].qty"}, got["items[].parts[].no"])
	require.Equal(t, []string{"source.email"}, got["customer.email"])
}

func TestSourceNodes(t *testing.T) {
	t.Parallel()
	def := &engine.Definition{Source: engine.Source{
		Schema:  json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer"},"lines":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"}}}}}}`),
		Samples: []engine.Sample{{Name: "s", Payload: json.RawMessage(`{"id": 7, "extra": {"a": 1}, "lines": [{"sku": "tee"}, {"sku": "mug", "qty": 2}]}`)}},
	}}
	nodes := sourceNodes(def, 0)
	var paths []string
	for _, n := range nodes {
		paths = append(paths, n.Path)
	}
	// The schema's fields in its order, then what the sample adds, each
	// under its parent; every item's fields.
	require.Equal(t, []string{"source.id", "source.lines", "source.lines[].sku", "source.lines[].qty", "source.extra", "source.extra.a"}, paths)
	require.Equal(t, "7", nodes[0].Example)
	require.Equal(t, `"tee"`, nodes[2].Example)
	require.True(t, nodes[1].List)
	require.Equal(t, []string{"sku", "qty"}, itemFieldNames(nodes, "source.lines"))
}

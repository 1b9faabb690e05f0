package web

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
)

func opsTestDefinition(t *testing.T) *engine.Definition {
	t.Helper()
	var def engine.Definition
	require.NoError(t, json.Unmarshal([]byte(`{
		"formatVersion": 1, "name": "t",
		"source": {"system": "shop", "event": "order", "samples": [{"name": "s", "payload": {"id": 1, "lines": [{"sku": "a"}]}}]},
		"validation": [{"name": "a", "rule": "true", "message": "m"}, {"name": "b", "rule": "false", "message": "n"}],
		"routes": [{"name": "erp", "target": "erp", "when": "true", "mapping": [
			{"target": "id", "expr": "source.id"},
			{"target": "lines", "forEach": "source.lines", "rows": [{"target": "sku", "expr": "item.sku"}]},
			{"target": "kind", "value": "order"}
		]}]
	}`), &def))
	return &def
}

// Every operation's inverse brings the definition back exactly: that is
// what undo sends.
func TestEveryDraftOperationHasAnExactInverse(t *testing.T) {
	t.Parallel()
	for _, op := range []draftOp{
		{Op: "add-row", Path: "/routes/0/mapping/1"},
		{Op: "add-row", Path: "/routes/0/mapping/1/rows/1"},
		{Op: "add-rule", Path: "/validation/2"},
		{Op: "remove", Path: "/validation/0"},
		{Op: "remove", Path: "/routes/0/mapping/1"},
		{Op: "up", Path: "/routes/0/mapping/2"},
		{Op: "down", Path: "/routes/0/mapping/0"},
		{Op: "up", Path: "/routes/0/mapping/0"},
		{Op: "replace", Path: "/routes/0/when", Value: json.RawMessage(`"false"`)},
		{Op: "replace", Path: "/routes/0/mapping/0/note", Value: json.RawMessage(`"added"`)},
		{Op: "insert", Path: "/routes/0/mapping/3", Value: json.RawMessage(`{"target": "x", "expr": "1"}`)},
		// The structure editor's operations (mappings/structure.go).
		{Op: "add-constant", Path: "/routes/0/mapping/0"},
		{Op: "add-object", Path: "/routes/0/mapping/3"},
		{Op: "add-foreach", Path: "/routes/0/mapping/1/rows/0"},
		{Op: "add-array", Path: "/routes/0/mapping/2"},
		{Op: "add-target", Path: "/targets/0"},
		{Op: "add-route", Path: "/routes/1"}, // with the target it needs: a batch
		{Op: "duplicate-route", Path: "/routes/0"},
		{Op: "infer-schema", Path: "/source/schema"},
		{Op: "remove", Path: "/routes/0"},
		{Op: "batch", Value: json.RawMessage(`[{"op": "remove", "path": "/validation/0"}, {"op": "down", "path": "/routes/0/mapping/0"}]`)},
	} {
		t.Run(op.Op+" "+op.Path, func(t *testing.T) {
			t.Parallel()
			def := opsTestDefinition(t)
			want, _ := def.Canonical()
			changed, done, inverse, err := applyDraftOp(def, op)
			require.NoError(t, err)
			require.Contains(t, []string{"insert", "remove", "replace", "up", "down", "batch"}, done.Op, "pending operations are primitive")
			if done.Op == "batch" {
				var inner []draftOp
				require.NoError(t, json.Unmarshal(done.Value, &inner))
				for _, o := range inner {
					require.Contains(t, []string{"insert", "remove", "replace", "up", "down"}, o.Op, "a batch holds primitive operations")
				}
			}
			redone, _, _, err := applyDraftOp(def, done)
			require.NoError(t, err)
			wantChanged, _ := changed.Canonical()
			gotRedone, _ := redone.Canonical()
			require.JSONEq(t, string(wantChanged), string(gotRedone), "replaying the pending form makes the same change")
			back, _, _, err := applyDraftOp(changed, inverse)
			require.NoError(t, err)
			got, _ := back.Canonical()
			require.JSONEq(t, string(want), string(got))
		})
	}
}

func TestTargetPathsAreCheckedAsTyped(t *testing.T) {
	t.Parallel()
	for target, want := range map[string][2]string{
		"customer.email":  {"", ""},
		"lines[].sku":     {"use a for-each block for arrays", "lines"},
		"order.lines[].x": {"use a for-each block for arrays", "order.lines"},
		"lines[0].sku":    {"use a for-each block for arrays", "lines"},
		"lines[]":         {"use a for-each block for arrays", ""},
		"a..b":            {"an empty name between dots", ""},
		"":                {"needs a name", ""},
	} {
		problem, array := targetProblem(target)
		if want[0] == "" {
			require.Empty(t, problem, target)
		} else {
			require.Contains(t, problem, want[0], target)
		}
		require.Equal(t, want[1], array, target)
	}
}

package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
)

const contractDefinition = `{
	"formatVersion": 1, "name": "contract",
	"source": {"system": "shop", "event": "order.created", "enforce": true, "schema": {
		"type": "object", "required": ["id", "email", "lines"],
		"properties": {
			"id": {"type": "integer"},
			"email": {"type": "string", "format": "email"},
			"lines": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}, "qty": {"type": "number"}}}}
		}}},
	"validation": [{"name": "positive", "rule": "source.id > 0", "message": "The id must be positive."}],
	"targets": [{"name": "erp", "kind": "capture"}],
	"routes": [{"name": "r", "target": "erp", "mapping": [{"target": "id", "expr": "source.id"}]}]
}`

// TestSourceContract: with source.enforce, each message is checked against
// the source schema before the validation rules, and every violation is a
// validation failure naming its JSON pointer.
func TestSourceContract(t *testing.T) {
	t.Parallel()
	def, err := engine.ParseDefinition([]byte(contractDefinition))
	require.NoError(t, err)
	prog := mustCompile(t, def)
	run := func(payload string) *engine.Result {
		res, err := prog.Run(context.Background(), engine.Input{Payload: []byte(payload), Now: time.Now()})
		require.NoError(t, err)
		return res
	}

	t.Run("a message that keeps the contract maps", func(t *testing.T) {
		res := run(`{"id": 7, "email": "ana@example.com", "lines": [{"sku": "TEE", "qty": 2}]}`)
		require.True(t, res.Valid(), "%v", res.Validation)
		require.JSONEq(t, `{"id": 7}`, string(res.Routes[0].Output))
	})

	t.Run("every violation is named by its pointer", func(t *testing.T) {
		res := run(`{"id": "7", "email": "not an address", "lines": [{"qty": "two"}]}`)
		require.False(t, res.Valid())
		var msgs []string
		for _, v := range res.Validation {
			if v.Rule == "schema" {
				msgs = append(msgs, v.Message)
			}
		}
		joined := strings.Join(msgs, "\n")
		for _, want := range []string{"/email: ", "/id: ", "/lines/0: ", "/lines/0/qty: "} {
			require.Contains(t, joined, want)
		}
		require.Contains(t, joined, "email")
		require.Empty(t, res.Routes, "an invalid message is not mapped")
	})

	t.Run("a missing required field is named at its parent", func(t *testing.T) {
		res := run(`{"id": 7, "lines": []}`)
		require.False(t, res.Valid())
		joined := ""
		for _, v := range res.Validation {
			joined += v.Message + "\n"
		}
		require.Contains(t, joined, "the payload: ")
		require.Contains(t, joined, "email")
		require.Contains(t, joined, "/lines: ")
	})

	t.Run("the rules still run after the contract", func(t *testing.T) {
		res := run(`{"id": -1, "email": "ana@example.com", "lines": [{"sku": "TEE"}]}`)
		require.Len(t, res.Validation, 1)
		require.Equal(t, "positive", res.Validation[0].Rule)
	})

	t.Run("without enforce the schema only checks expressions", func(t *testing.T) {
		d, err := engine.ParseDefinition([]byte(strings.Replace(contractDefinition, `"enforce": true, `, ``, 1)))
		require.NoError(t, err)
		res, err := mustCompile(t, d).Run(context.Background(), engine.Input{Payload: []byte(`{"id": 7, "email": "x", "lines": []}`), Now: time.Now()})
		require.NoError(t, err)
		require.True(t, res.Valid())
	})
}

func TestSourceContractNeedsASchema(t *testing.T) {
	t.Parallel()
	def, err := engine.ParseDefinition([]byte(`{"formatVersion": 1, "name": "c", "source": {"system": "s", "event": "e", "enforce": true},
		"targets": [{"name": "x", "kind": "capture"}], "routes": [{"name": "r", "target": "x", "mapping": [{"target": "a", "expr": "1"}]}]}`))
	require.NoError(t, err)
	_, err = engine.Compile(def, engine.Options{})
	var de *engine.DefinitionError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "/source/enforce", de.Diagnostics[0].Pointer)
	require.Contains(t, de.Diagnostics[0].Message, "there is none: paste or infer one")
}

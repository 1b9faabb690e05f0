package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
)

// limitDef is a valid definition whose correlation expression and first
// row are the given expressions.
func limitDef(correlation, row string) *engine.Definition {
	return &engine.Definition{
		FormatVersion: 1, Name: "limits",
		Source:  engine.Source{System: "s", Event: "e"},
		Keys:    engine.Keys{Correlation: correlation},
		Targets: []engine.Target{{Name: "t", Kind: engine.TargetCapture}},
		Routes:  []engine.Route{{Name: "r", Target: "t", Mapping: []engine.Row{{Target: "a", Expr: row}, {Target: "b", Expr: "source.b"}}}},
	}
}

func diagnostics(t *testing.T, err error) []engine.Diagnostic {
	t.Helper()
	var de *engine.DefinitionError
	require.ErrorAs(t, err, &de)
	return de.Diagnostics
}

// Hundreds of thousands of "(" overflow expr's parser's stack, a fatal
// error no recover catches: one preview request would kill the server.
// Compile refuses deep and long expressions from a scan of their
// characters, before parsing anything, and names where they are.
func TestCompileRefusesDeepExpressionsBeforeParsing(t *testing.T) {
	deep := strings.Repeat("(", 1_000_000) + "1" + strings.Repeat(")", 1_000_000)

	t.Run("nested brackets", func(t *testing.T) {
		_, err := engine.Compile(limitDef(deep, "source.a"), engine.Options{})
		d := diagnostics(t, err)
		require.Len(t, d, 1)
		require.Equal(t, "/keys/correlation", d[0].Pointer)
		require.Equal(t, "expression is 2,000,001 characters long; at most 10,000 are allowed", d[0].Message)
	})

	t.Run("deep but short", func(t *testing.T) {
		src := strings.Repeat("[", 1204) + strings.Repeat("]", 1204)
		_, err := engine.Compile(limitDef("", src), engine.Options{})
		d := diagnostics(t, err)
		require.Len(t, d, 1)
		require.Equal(t, "/routes/0/mapping/0/expr", d[0].Pointer)
		require.Equal(t, "expression nests 1,204 levels deep; at most 100 are allowed", d[0].Message)
	})

	t.Run("prefix operators and ternaries", func(t *testing.T) {
		for _, src := range []string{
			strings.Repeat("-", 101) + "1",
			strings.Repeat("!", 101) + "true",
			strings.Repeat("not ", 101) + "true",
			strings.Repeat("true ? 1 : ", 101) + "2",
			strings.Repeat("2 ** ", 101) + "2",
			strings.Repeat("let x = 1; ", 101) + "x",
		} {
			_, err := engine.Compile(limitDef("", src), engine.Options{})
			d := diagnostics(t, err)
			require.Len(t, d, 1, src)
			require.Contains(t, d[0].Message, "levels deep; at most 100 are allowed", src)
		}
	})

	t.Run("at the limit it compiles", func(t *testing.T) {
		src := strings.Repeat("(", engine.MaxExprDepth) + "1" + strings.Repeat(")", engine.MaxExprDepth)
		_, err := engine.Compile(limitDef("", src), engine.Options{})
		require.NoError(t, err)
	})

	t.Run("ParseDefinition applies the same limits", func(t *testing.T) {
		b, err := json.Marshal(limitDef(strings.Repeat("(", 200)+"1"+strings.Repeat(")", 200), "source.a"))
		require.NoError(t, err)
		_, err = engine.ParseDefinition(b)
		d := diagnostics(t, err)
		require.Equal(t, "/keys/correlation", d[0].Pointer)
		require.Contains(t, d[0].Message, "nests 200 levels deep")
	})
}

func TestExprDepth(t *testing.T) {
	for src, want := range map[string]int{
		``:                               0,
		`source.id`:                      0,
		`upper(source.name)`:             1,
		`decRound(decMul(a, b), 2)`:      2,
		`a - b + c * d / e`:              0,
		`-a`:                             1,
		`a - -b`:                         1,
		`!(a && !b)`:                     3,
		`a ? b : c ? d : e`:              2,
		`f(a ? 1 : 2, b ? 3 : 4)`:        2,
		`"((((((" + '[[[[' + ` + "`{{{`": 0,
		`"\"(((" + x`:                    0,
		`map(source.lines ?? [], .sku)`:  2,
		`a?.b ?? c`:                      0,
		`1..3`:                           0,
		`// ((((` + "\n" + `x`:           0,
		`/* (((( */ x`:                   0,
		`a != b`:                         0,
		`)))(`:                           1,
	} {
		require.Equal(t, want, engine.ExprDepth(src), src)
	}
}

func TestCheckLimitsCountsRowsAndSize(t *testing.T) {
	t.Run("rows", func(t *testing.T) {
		def := limitDef("", "source.a")
		rows := make([]engine.Row, engine.MaxRows+1)
		for i := range rows {
			rows[i] = engine.Row{Target: "x", Expr: "1"}
		}
		def.Routes[0].Mapping = rows
		d := diagnostics(t, engine.CheckLimits(def))
		require.Equal(t, "the routes have more than 5,000 rows together; at most 5,000 are allowed", d[0].Message)
	})

	t.Run("row depth", func(t *testing.T) {
		def := limitDef("", "source.a")
		row := engine.Row{Target: "x", Expr: "1"}
		for range engine.MaxRowDepth {
			row = engine.Row{Target: "x", Rows: []engine.Row{row}}
		}
		def.Routes[0].Mapping = []engine.Row{row}
		d := diagnostics(t, engine.CheckLimits(def))
		require.Equal(t, "rows nest more than 20 levels deep", d[0].Message)
		require.Equal(t, "/routes/0/mapping/0"+strings.Repeat("/rows/0", 19)+"/rows", d[0].Pointer)
	})

	t.Run("routes", func(t *testing.T) {
		def := limitDef("", "source.a")
		for range engine.MaxRoutes {
			def.Routes = append(def.Routes, def.Routes[0])
		}
		d := diagnostics(t, engine.CheckLimits(def))
		require.Equal(t, "/routes", d[0].Pointer)
		require.Equal(t, "the definition has 101 routes; at most 100 are allowed", d[0].Message)
	})

	t.Run("document size before decoding", func(t *testing.T) {
		big := make([]byte, engine.MaxDefinitionBytes+1)
		_, err := engine.ParseDefinition(big)
		d := diagnostics(t, err)
		require.Contains(t, d[0].Message, "the definition is 2,097,153 bytes; at most 2,097,152 are allowed")
	})
}

// Every shipped template and test flow stays far inside the limits.
func TestTemplatesAreWithinTheLimits(t *testing.T) {
	files, err := filepath.Glob("../mappings/templates/*.json")
	require.NoError(t, err)
	more, err := filepath.Glob("testdata/flows/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		def, err := engine.ParseDefinition(b)
		require.NoError(t, err, f)
		_, err = engine.Compile(def, engine.Options{})
		require.NoError(t, err, f)
		deepest := 0
		walkExprs(def, func(src string) { deepest = max(deepest, engine.ExprDepth(src)) })
		require.Less(t, deepest, engine.MaxExprDepth/10, f)
	}
}

func walkExprs(def *engine.Definition, fn func(string)) {
	fn(def.Keys.Idempotency)
	fn(def.Keys.Correlation)
	for _, r := range def.Validation {
		fn(r.Rule)
	}
	var rows func([]engine.Row)
	rows = func(rs []engine.Row) {
		for _, r := range rs {
			fn(r.Expr)
			fn(r.ForEach)
			fn(r.Filter)
			fn(r.When)
			rows(r.Rows)
		}
	}
	for _, r := range def.Routes {
		fn(r.When)
		rows(r.Mapping)
	}
}

package bench

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure" // ts_parse, ts_format, ts_add_iso8601
)

// benchVars play the role of the engine's Input.Vars: env(NAME) reads them,
// as Crossdock's env() reads the environment's variables, not the process's.
var benchVars = map[string]string{"ERP_COMPANY": "1000", "NOW": "2026-03-14T09:30:00Z"}

func bloblangExecutor(tb testing.TB) *bloblang.Executor {
	src, err := os.ReadFile("storefront.blobl")
	if err != nil {
		tb.Fatal(err)
	}
	env := bloblang.GlobalEnvironment().WithoutFunctions("env")
	err = env.RegisterFunctionV2("env", bloblang.NewPluginSpec().Param(bloblang.NewStringParam("name")),
		func(args *bloblang.ParsedParams) (bloblang.Function, error) {
			name, err := args.GetString("name")
			if err != nil {
				return nil, err
			}
			return func() (any, error) { return benchVars[name], nil }, nil
		})
	if err != nil {
		tb.Fatal(err)
	}
	exe, err := env.Parse(string(src))
	if err != nil {
		tb.Fatal(err)
	}
	return exe
}

// bloblangMap is what a Benthos pipeline does per message: decode JSON,
// run the mapping, encode the result.
func bloblangMap(exe *bloblang.Executor, payload []byte) ([]byte, error) {
	var in any
	if err := json.Unmarshal(payload, &in); err != nil {
		return nil, err
	}
	out, err := exe.Query(in)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// BenchmarkBloblang maps the same generated orders with the equivalent
// Bloblang mapping: JSON decode, Query, JSON encode.
func BenchmarkBloblang(b *testing.B) {
	exe := bloblangExecutor(b)
	b.SetBytes(totalBytes())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := bloblangMap(exe, benchOrders[i%len(benchOrders)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkBloblangQueryOnly leaves JSON decoding and encoding out, to show
// how much of Bloblang's time is the mapping itself.
func BenchmarkBloblangQueryOnly(b *testing.B) {
	exe := bloblangExecutor(b)
	decoded := make([]any, len(benchOrders))
	for i, o := range benchOrders {
		if err := json.Unmarshal(o, &decoded[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(totalBytes())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// Query may modify nothing in its input, so reusing it is fair.
		if _, err := exe.Query(decoded[i%len(decoded)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

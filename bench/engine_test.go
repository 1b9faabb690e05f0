package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/crossdock/crossdock/bench/orders"
	"github.com/crossdock/crossdock/engine"
)

const flowPath = "../engine/testdata/flows/storefront-order-to-erp.json"

// benchOrders is a fixed set of generated orders; each benchmark iteration
// maps one, cycling, so every line count and branch is exercised.
var benchOrders = orders.Generate(1000, 1)

func storefrontProgram(tb testing.TB) *engine.Program {
	data, err := os.ReadFile(flowPath)
	if err != nil {
		tb.Fatal(err)
	}
	def, err := engine.ParseDefinition(data)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := engine.Compile(def, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func totalBytes() int64 {
	var n int64
	for _, o := range benchOrders {
		n += int64(len(o))
	}
	return n / int64(len(benchOrders))
}

// BenchmarkEngine maps generated storefront orders to ERP sales orders with
// the Crossdock engine, in process.
func BenchmarkEngine(b *testing.B) {
	p := storefrontProgram(b)
	vars := map[string]string{"ERP_COMPANY": "1000"}
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	b.SetBytes(totalBytes())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		res, err := p.Run(context.Background(), engine.Input{Payload: benchOrders[i%len(benchOrders)], Now: now, Vars: vars})
		if err != nil || res.Failed() || !res.Valid() {
			b.Fatalf("order %d: %v %+v", i, err, res)
		}
		i++
	}
}

// TestEngineMapsEveryGeneratedOrder guards the benchmark: a mapping that
// failed on the generated data would be measuring error paths.
func TestEngineMapsEveryGeneratedOrder(t *testing.T) {
	p := storefrontProgram(t)
	for i, o := range benchOrders {
		res, err := p.Run(context.Background(), engine.Input{Payload: o, Vars: map[string]string{"ERP_COMPANY": "1000"}})
		if err != nil || res.Failed() || !res.Valid() {
			t.Fatalf("order %d: %v %+v", i, err, res)
		}
	}
}
